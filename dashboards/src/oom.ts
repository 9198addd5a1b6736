// "memlens / OOM kills and early warnings": kills by cgroup and comm, threshold crossings,
// snapshots taken, the share of kills with a snapshot, and memlens's own health.
import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { CGROUP, INSTANCE, dashboard, q } from './common.js';
import { sortDesc, stat, table, timeseries } from './panels.js';

export function oomDashboard(): Dashboard {
  return dashboard('memlens-oom', 'memlens / OOM kills and early warnings',
    'OOM kills from the kernel log, threshold crossings before them, the snapshots memlens took, and the exporter\'s own health. Needs the recording rules of dashboards/alerts.yaml.',
    { cgroup: true })
    .withRow(new RowBuilder('OOM kills'))
    .withPanel(
      table('Kills by cgroup and comm', 'Counted since memlens started, including kills it read back from the kernel ring at start; last kill time per cgroup.', { w: 12, h: 9 }, [
        { expr: `sum by (instance, cgroup, oom_cgroup, comm, constraint) (memlens_oom_kills_total{${CGROUP}})`, name: 'kills', unit: 'short' },
        // The cgroup's last kill time joined onto each {cgroup, comm} row (same labels: one row each).
        {
          expr: `max by (instance, cgroup, oom_cgroup, comm, constraint) (memlens_oom_kills_total{${CGROUP}} * 0 + on (instance, job, cgroup) group_left () memlens_oom_last_kill_timestamp_seconds{${CGROUP}}) * 1000`,
          name: 'last kill in the cgroup',
          unit: 'dateTimeAsIso',
        },
      ])
        .sortBy([sortDesc('last kill in the cgroup')]),
    )
    .withPanel(
      table('Kills seen live in the last 15 minutes', 'The recording rule behind MemlensOOMKill: kills after this memlens started (not read back from the ring after a restart).', { w: 12, h: 9 }, [
        { expr: `memlens:oom_kills:live15m{${CGROUP}}`, name: 'kills', unit: 'short' },
      ]),
    )
    .withPanel(
      timeseries('Kills over time by cgroup and comm', 'Cumulative count per {cgroup, comm} (a step is a kill; a series starts at its first kill), and the host\'s kills per interval from /proc/vmstat.', 'short', { w: 24, h: 9 }, [
        q(`sum by (cgroup, comm) (memlens_oom_kills_total{${CGROUP}})`, '{{cgroup}} {{comm}}'),
        q(`increase(memlens_host_oom_kills_total{${INSTANCE}}[$__rate_interval])`, 'host kills per interval ({{instance}})'),
      ]),
    )
    .withRow(new RowBuilder('Early warnings and snapshots'))
    .withPanel(timeseries('Threshold crossings', 'Upward crossings of --watch.thresholds (fractions of the effective limit), per interval.', 'short', { w: 12, h: 9 }, [
      q(`increase(memlens_watch_threshold_crossings_total{${CGROUP}}[$__rate_interval])`, '{{cgroup}} ≥ {{threshold}}'),
    ]))
    .withPanel(timeseries('Snapshots taken', 'By trigger and result (error: full disk, read-only dir, cgroup gone; debounced: within --snapshot.min-interval), per interval.', 'short', { w: 12, h: 9 }, [
      q(`increase(memlens_snapshots_total{${INSTANCE}}[$__rate_interval])`, '{{reason}} {{result}}'),
    ]))
    .withPanel(stat('Kills with a snapshot', 'OOM kills linked to a snapshot taken before them, out of the kills counted since memlens started (kills read back from the ring at start have none).', 'percentunit', { w: 6, h: 6 },
      q(`sum by (instance) (memlens_oom_kills_with_snapshot_total{${INSTANCE}}) / sum by (instance) (memlens_oom_kills_total{${INSTANCE}})`, '{{instance}}')))
    .withPanel(timeseries('Notification latency (p99)', 'Kernel notification to the crossing event on the bus.', 's', { w: 9, h: 6 }, [
      q(`histogram_quantile(0.99, sum by (instance, le) (rate(memlens_watch_notification_latency_seconds_bucket{${INSTANCE}}[$__rate_interval])))`, '{{instance}}'),
    ]))
    .withPanel(timeseries('Snapshot store', 'Bytes of snapshot documents kept in --snapshot.dir.', 'bytes', { w: 9, h: 6 }, [
      q(`memlens_snapshot_store_bytes{${INSTANCE}}`, '{{instance}}'),
    ]))
    .withRow(new RowBuilder('Exporter health'))
    .withPanel(timeseries('Scrape target up, collectors succeeding', '1 = up / the collector read its area; 0 = down / failed as a whole.', 'short', { w: 12, h: 8 }, [
      q(`up{${INSTANCE}}`, '{{instance}} up'),
      q(`memlens_collector_success{${INSTANCE}}`, '{{instance}} {{collector}}'),
    ]).min(0).max(1))
    .withPanel(timeseries('Kernel log source', '1 when /dev/kmsg is read; 0 with the reason (eacces: no CAP_SYSLOG, enoent: not mounted). Records lost per interval.', 'short', { w: 12, h: 8 }, [
      q(`memlens_oom_source_up{${INSTANCE}}`, '{{instance}} {{source}} up {{reason}}'),
      q(`increase(memlens_kmsg_records_lost_total{${INSTANCE}}[$__rate_interval])`, '{{instance}} records lost'),
    ]))
    .withPanel(timeseries('Collector duration', 'How long each collector\'s last run took.', 's', { w: 12, h: 8 }, [
      q(`memlens_collector_duration_seconds{${INSTANCE}}`, '{{instance}} {{collector}}'),
    ]))
    .withPanel(timeseries('Problems and drops', 'Parts of an area that could not be read, samples over a collector\'s budget, OOM label sets over the cap; per second.', 'short', { w: 12, h: 8 }, [
      q(`rate(memlens_collect_problems_total{${INSTANCE}}[$__rate_interval])`, '{{instance}} {{collector}} {{reason}}'),
      q(`rate(memlens_samples_dropped_total{${INSTANCE}}[$__rate_interval])`, '{{instance}} {{collector}} dropped'),
      q(`rate(memlens_oom_series_dropped_total{${INSTANCE}}[$__rate_interval])`, '{{instance}} OOM series dropped'),
    ]))
    .build();
}
