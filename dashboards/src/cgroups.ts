// "memlens / Cgroups": the cgroups closest to their effective limit, usage against the limit over
// time, what the memory is (anon, file, shmem, kernel), pressure, and OOM kills as annotations.
import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { GraphThresholdsStyleConfigBuilder, GraphThresholdsStyleMode } from '@grafana/grafana-foundation-sdk/common';
import { CGROUP_POD, INSTANCE, dashboard, q } from './common.js';
import { limitThresholds, sortDesc, table, timeseries } from './panels.js';

const SEL = CGROUP_POD;

export function cgroupsDashboard(): Dashboard {
  return dashboard('memlens-cgroups', 'memlens / Cgroups',
    'Per-cgroup memory from memlens: usage and working set against the effective limit (the tightest ancestor\'s), breakdown, pressure, OOM kills. Needs the recording rules of dashboards/alerts.yaml.',
    { cgroup: true, pod: true })
    .withRow(new RowBuilder('Closest to their limit'))
    .withPanel(
      table('Cgroups closest to their effective limit',
        'Top 20 by usage / effective limit (what the OOM killer compares); working set / effective limit is what the kubelet evicts on. Alerts at 95 % (MemlensCgroupNearLimit).',
        { w: 24, h: 9 },
        [
          { expr: `topk(20, memlens:cgroup_memory_usage:ratio{${SEL}})`, name: 'usage %', unit: 'percentunit' },
          { expr: `memlens:cgroup_memory_working_set:ratio{${SEL}} and on (instance, job, cgroup) topk(20, memlens:cgroup_memory_usage:ratio{${SEL}})`, name: 'working set %', unit: 'percentunit' },
          { expr: `memlens_cgroup_memory_usage_bytes{${SEL}} and on (instance, job, cgroup) topk(20, memlens:cgroup_memory_usage:ratio{${SEL}})`, name: 'usage', unit: 'bytes' },
          { expr: `memlens_cgroup_memory_effective_limit_bytes{${SEL}} and on (instance, job, cgroup) topk(20, memlens:cgroup_memory_usage:ratio{${SEL}})`, name: 'effective limit', unit: 'bytes' },
        ])
        
        .sortBy([sortDesc('usage %')])
        .overrideByName('usage %', [{ id: 'custom.cellOptions', value: { type: 'color-background' } }, { id: 'thresholds', value: limitThresholds().build() }]),
    )
    .withRow(new RowBuilder('Usage against the limit'))
    .withPanel(
      timeseries('Usage and working set against the effective limit', 'Bytes; the effective limit is dashed.', 'bytes', { w: 12, h: 9 }, [
        q(`memlens_cgroup_memory_usage_bytes{${SEL}}`, '{{cgroup}} usage'),
        q(`memlens_cgroup_memory_working_set_bytes{${SEL}}`, '{{cgroup}} working set'),
        q(`memlens_cgroup_memory_effective_limit_bytes{${SEL}}`, '{{cgroup}} effective limit'),
      ]).overrideByRegexp('.* effective limit$', [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }]),
    )
    .withPanel(
      timeseries('Usage and working set, % of the effective limit', 'Orange at 90 %, red at 95 % (the alert threshold).', 'percentunit', { w: 12, h: 9 }, [
        q(`memlens:cgroup_memory_usage:ratio{${SEL}}`, '{{cgroup}} usage'),
        q(`memlens:cgroup_memory_working_set:ratio{${SEL}}`, '{{cgroup}} working set'),
      ]).thresholds(limitThresholds()).thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed)).min(0),
    )
    .withRow(new RowBuilder('What the memory is'))
    .withPanel(
      timeseries('Breakdown: anon, file, shmem, kernel', 'memory.stat items (hierarchical on v1, v2 names). file includes shmem; kernel is v2 only (5.18+).', 'bytes', { w: 12, h: 9 }, [
        q(`memlens_cgroup_memory_stat_bytes{${SEL}, item=~"anon|file|shmem|kernel"}`, '{{cgroup}} {{item}}'),
      ]),
    )
    .withPanel(
      timeseries('Swap and peak', 'Swap used by the cgroup; the highest usage the kernel recorded.', 'bytes', { w: 12, h: 9 }, [
        q(`memlens_cgroup_memory_swap_usage_bytes{${SEL}}`, '{{cgroup}} swap'),
        q(`memlens_cgroup_memory_peak_bytes{${SEL}}`, '{{cgroup}} peak'),
      ]),
    )
    .withRow(new RowBuilder('Pressure and limit hits'))
    .withPanel(
      timeseries('Memory pressure (PSI)', 'Share of time tasks were stalled on memory: per cgroup (cgroup v2) and the whole host.', 'percentunit', { w: 12, h: 9 }, [
        q(`rate(memlens_cgroup_memory_pressure_seconds_total{${SEL}}[$__rate_interval])`, '{{cgroup}} {{kind}}'),
        q(`rate(memlens_host_memory_pressure_seconds_total{${INSTANCE}}[$__rate_interval])`, 'host {{kind}}'),
      ]),
    )
    .withPanel(
      timeseries('Limit hits and OOM kills', 'Memory events per second (v1: failcnt as max, oom_kill) and OOM kills counted by the kernel per cgroup.', 'short', { w: 12, h: 9 }, [
        q(`rate(memlens_cgroup_memory_events_total{${SEL}}[$__rate_interval])`, '{{cgroup}} {{event}}'),
        q(`increase(memlens_cgroup_memory_oom_kills_total{${SEL}}[$__rate_interval])`, '{{cgroup}} OOM kills'),
      ]),
    )
    .build();
}
