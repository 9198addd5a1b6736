// Snapshots as samples: attempts by trigger and result, the last duration, kills linked to a
// snapshot, and what the store holds. The service (forensics/) keeps the state; this only reads it.
import * as c from '../model/catalog.js';
import type { CollectResult, MetricDesc } from '../model/types.js';
import type { Collector } from './collector.js';

export interface SnapshotValues {
  counts: { reason: string; result: string; n: number }[];
  lastDurationSeconds: number | undefined;
  killsWithSnapshot: number;
  stored: { count: number; bytes: number };
}

export const SNAPSHOT_METRICS: readonly MetricDesc[] = [c.snapshotsTotal, c.snapshotDuration, c.oomKillsWithSnapshot, c.snapshotStoreBytes, c.snapshotStoreSnapshots];

export class SnapshotCollector implements Collector {
  readonly name = 'snapshot';
  readonly metrics = SNAPSHOT_METRICS;

  constructor(private readonly svc: { metricValues(): SnapshotValues }) {}

  collect(): Promise<CollectResult> {
    const v = this.svc.metricValues();
    const samples: CollectResult['samples'] = [];
    for (const r of ['threshold', 'api', 'cli']) {
      for (const res of ['ok', 'error', 'refused']) samples.push({ desc: c.snapshotsTotal, labels: { reason: r, result: res }, value: 0 });
    }
    for (const e of v.counts) {
      const s = samples.findIndex((x) => x.labels['reason'] === e.reason && x.labels['result'] === e.result);
      const sample = { desc: c.snapshotsTotal, labels: { reason: e.reason, result: e.result }, value: e.n };
      if (s >= 0) samples[s] = sample;
      else samples.push(sample);
    }
    if (v.lastDurationSeconds !== undefined) samples.push({ desc: c.snapshotDuration, labels: {}, value: v.lastDurationSeconds });
    samples.push({ desc: c.oomKillsWithSnapshot, labels: {}, value: v.killsWithSnapshot });
    samples.push({ desc: c.snapshotStoreBytes, labels: {}, value: v.stored.bytes });
    samples.push({ desc: c.snapshotStoreSnapshots, labels: {}, value: v.stored.count });
    return Promise.resolve({ samples, problems: [] });
  }
}
