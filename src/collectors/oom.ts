// OOM kills as kept by the exporter (not read from files at scrape time).
import * as c from '../model/catalog.js';
import type { CollectResult, MetricDesc } from '../model/types.js';
import type { OomStore } from '../oom/store.js';
import type { OomMonitor } from '../oom/monitor.js';
import type { Collector } from './collector.js';
import { SampleSink } from './samples.js';

/** A bounded label from the errno behind the source being down. */
function reasonLabel(errno: string | undefined): string {
  if (errno === 'EACCES' || errno === 'EPERM') return 'eacces';
  if (errno === 'ENOENT' || errno === 'ENODEV' || errno === 'ENXIO') return 'enoent';
  return 'error';
}

export const OOM_METRICS: readonly MetricDesc[] = [c.oomKills, c.oomLastKill, c.oomSourceUp, c.kmsgRecordsLost, c.oomSeriesDropped];

export class OomCollector implements Collector {
  readonly name = 'oom';
  readonly metrics = OOM_METRICS;

  constructor(
    private readonly store: OomStore,
    private readonly monitor: OomMonitor,
  ) {}

  collect(): Promise<CollectResult> {
    const out = new SampleSink();
    for (const { key, count } of this.store.counterValues()) out.add(c.oomKills, { ...key }, count);
    for (const [cgroup, ms] of this.store.lastKills()) out.add(c.oomLastKill, { cgroup }, ms / 1000);
    const st = this.monitor.state;
    out.add(c.oomSourceUp, { source: 'kmsg', reason: st.up ? '' : reasonLabel(st.errno) }, st.up ? 1 : 0);
    out.add(c.kmsgRecordsLost, {}, st.recordsLost);
    out.add(c.oomSeriesDropped, {}, this.store.seriesDropped);
    return Promise.resolve(out.result());
  }
}
