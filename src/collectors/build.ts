// memlens_build_info{version} 1.
import * as c from '../model/catalog.js';
import type { CollectResult, MetricDesc } from '../model/types.js';
import type { Collector } from './collector.js';

export const BUILD_METRICS: readonly MetricDesc[] = [c.buildInfo];

export class BuildInfoCollector implements Collector {
  readonly name = 'build';
  readonly metrics = BUILD_METRICS;

  constructor(private readonly version: string) {}

  collect(): Promise<CollectResult> {
    return Promise.resolve({ samples: [{ desc: c.buildInfo, labels: { version: this.version }, value: 1 }], problems: [] });
  }
}
