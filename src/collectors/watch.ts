// Early-warning counters as samples: the watcher (watch/) counts crossings and notification
// latency; this hands its samples to the runner like any other collector's.
import * as c from '../model/catalog.js';
import type { CollectResult, MetricDesc, Sample } from '../model/types.js';
import type { Collector } from './collector.js';

export const WATCH_METRICS: readonly MetricDesc[] = [
  c.watchCrossings, c.watchLatency, c.watchLabelSetsDropped, c.watchLateCrossings, c.watchCgroups, c.watchPollFallbacks,
  c.treeCgroups, c.treeRescans, c.treeWatchFailures,
];

export class WatchCollector implements Collector {
  readonly name = 'watch';
  readonly metrics = WATCH_METRICS;

  constructor(private readonly stats: { samples(): Sample[] }) {}

  collect(): Promise<CollectResult> {
    return Promise.resolve({ samples: this.stats.samples(), problems: [] });
  }
}
