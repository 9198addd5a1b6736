// Small helpers to build samples; an undefined value (the kernel did not give it) gives no sample.
import type { Labels, MetricDesc, Problem, Sample } from '../model/types.js';
import type { ParseError } from '../errors.js';

export class SampleSink {
  readonly samples: Sample[] = [];
  readonly problems: Problem[] = [];

  add(desc: MetricDesc, labels: Labels, value: number | undefined): void {
    if (value === undefined || !Number.isFinite(value)) return;
    this.samples.push({ desc, labels, value });
  }

  problem(reason: string, message: string, path?: string): void {
    this.problems.push(path === undefined ? { reason, message } : { reason, message, path });
  }

  parseProblems(errors: readonly ParseError[]): void {
    for (const e of errors) this.problem('parse', e.message, e.path);
  }

  result(): { samples: Sample[]; problems: Problem[] } {
    return { samples: this.samples, problems: this.problems };
  }
}
