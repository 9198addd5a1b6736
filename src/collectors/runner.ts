// The runner calls every collector concurrently, each with its own timeout and try/catch, and
// adds memlens_collector_success / _duration_seconds. Concurrent callers (scrapes, OTLP exports)
// share one collection in flight, and reuse the last one within --collect.min-interval.
import * as c from '../model/catalog.js';
import type { HostFs } from '../host/hostFs.js';
import type { CollectorState, Sample, SampleGroup, Snapshot } from '../model/types.js';
import type { Logger } from '../log.js';
import { MemlensError, describe } from '../errors.js';
import type { Collector } from './collector.js';

export type { CollectorState, Snapshot };

/** The group of the runner's own samples (success, duration, problems, dropped, and the extra ones). */
export const RUNNER_GROUP = 'runner';

export interface RunnerOptions {
  timeoutMs: number;
  minIntervalMs: number;
  /** Samples per collector above which the rest are dropped and counted. */
  seriesBudget: number;
}

export class Runner {
  private inFlight: Promise<Snapshot> | undefined;
  /**
   * The last collection, kept for --collect.min-interval only: at 1000 cgroups its samples are a
   * few MiB that would otherwise still be alive (with the text rendered from them) while the next
   * collection builds its own, raising the peak resident memory (bench/RESULTS.md, "Peak resident
   * memory at 1000 cgroups").
   */
  private last: Snapshot | undefined;
  private lastAtMs: number | undefined;
  private releaseTimer: NodeJS.Timeout | undefined;
  private generation = 0;
  private readonly problems = new Map<string, number>(); // `${collector}\0${reason}` -> count
  private readonly dropped = new Map<string, number>();
  private readonly failing = new Set<string>();
  private readonly listeners: ((snap: Snapshot) => void)[] = [];

  constructor(
    private readonly collectors: readonly Collector[],
    private readonly host: HostFs,
    private readonly opts: RunnerOptions,
    private readonly log: Logger,
    private readonly extra: () => Sample[] = () => [],
  ) {}

  /** A snapshot no older than minIntervalMs; callers arriving during a collection share it. */
  collect(): Promise<Snapshot> {
    if (this.last !== undefined && Date.now() - this.last.atMs < this.opts.minIntervalMs) return Promise.resolve(this.last);
    if (this.inFlight === undefined) {
      this.inFlight = this.run().finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  /** Called with every finished collection (the recent-samples ring listens: it never reads files itself). */
  onCollected(fn: (snap: Snapshot) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Makes sure a collection younger than maxAgeMs has been made (a new one, shared with any in
   * flight, when not): readers of what the collections feed (the page's API reads the
   * recent-samples ring) call this so that they do not cost a collection each.
   */
  async recent(maxAgeMs: number): Promise<void> {
    if (this.lastAtMs !== undefined && Date.now() - this.lastAtMs < maxAgeMs) return;
    await this.collect();
  }

  private async run(): Promise<Snapshot> {
    const atMs = Date.now();
    const results = await Promise.all(this.collectors.map((col) => this.runOne(col)));
    const groups: SampleGroup[] = [];
    const own: Sample[] = [];
    const states: CollectorState[] = [];
    for (const [col, r] of results) {
      states.push(r.state);
      const l = { collector: col.name };
      own.push({ desc: c.collectorSuccess, labels: l, value: r.state.success ? 1 : 0 });
      own.push({ desc: c.collectorDuration, labels: l, value: r.state.durationSeconds });
      let kept = r.samples;
      if (kept.length > this.opts.seriesBudget) {
        this.dropped.set(col.name, (this.dropped.get(col.name) ?? 0) + kept.length - this.opts.seriesBudget);
        kept = kept.slice(0, this.opts.seriesBudget);
      }
      groups.push({ collector: col.name, samples: kept });
      own.push({ desc: c.samplesDropped, labels: l, value: this.dropped.get(col.name) ?? 0 });
    }
    for (const [key, n] of this.problems) {
      const [collector, reason] = key.split('\0') as [string, string];
      own.push({ desc: c.collectProblems, labels: { collector, reason }, value: n });
    }
    own.push(...this.extra());
    groups.push({ collector: RUNNER_GROUP, samples: own });
    // One array of the final size, filled by a plain loop: flatMap (or push) over tens of thousands of samples
    // cost more than the copy itself.
    let total = 0;
    for (const g of groups) total += g.samples.length;
    const samples = new Array<Sample>(total);
    let at = 0;
    for (const g of groups) for (const x of g.samples) samples[at++] = x;
    const snap: Snapshot = { atMs, groups, samples, collectors: states };
    this.last = snap;
    this.lastAtMs = atMs;
    // Dropped once no caller may share it any more; callers that have it keep it as long as they
    // need. (The callback must not capture snap: the timer object stays referenced after it fired.)
    const generation = ++this.generation;
    clearTimeout(this.releaseTimer);
    this.releaseTimer = setTimeout(() => {
      if (this.generation === generation) this.last = undefined;
    }, Math.max(0, this.opts.minIntervalMs - (Date.now() - atMs)));
    this.releaseTimer.unref();
    for (const fn of this.listeners) {
      try {
        fn(snap);
      } catch (err) {
        this.log.error({ err: describe(err) }, 'a collection listener failed');
      }
    }
    return snap;
  }

  private async runOne(col: Collector): Promise<[Collector, { state: CollectorState; samples: Sample[] }]> {
    const t0 = performance.now();
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new MemlensError('MEMLENS_ERR_TIMEOUT', `collector ${col.name} took longer than ${this.opts.timeoutMs} ms`));
      }, this.opts.timeoutMs);
    });
    let samples: Sample[] = [];
    let error: string | undefined;
    try {
      const r = await Promise.race([col.collect(this.host, ac.signal), timeout]);
      samples = r.samples;
      for (const p of r.problems) {
        const key = `${col.name}\0${p.reason}`;
        this.problems.set(key, (this.problems.get(key) ?? 0) + 1);
      }
      if (r.problems.length > 0) this.log.debug({ collector: col.name, problems: r.problems.slice(0, 5), count: r.problems.length }, 'partial collection');
    } catch (err) {
      error = describe(err);
    } finally {
      // Abort only on timeout (above): an abort() per collector per scrape builds a DOMException
      // each time (measured: the largest single JS cost of an idle scrape).
      clearTimeout(timer);
    }
    const success = error === undefined;
    // One log line when a collector's state changes, not one per scrape.
    if (!success && !this.failing.has(col.name)) {
      this.failing.add(col.name);
      this.log.error({ collector: col.name, err: error }, 'collector failed');
    } else if (success && this.failing.delete(col.name)) {
      this.log.info({ collector: col.name }, 'collector recovered');
    }
    return [col, { state: { name: col.name, success, durationSeconds: (performance.now() - t0) / 1000, error }, samples }];
  }
}
