// The metric catalog: the contract. Dashboards, alerts and users' queries depend on these names:
// add freely, rename never. Both sinks, the README table and the dashboard checks read from here.
import type { Kind, LabelDesc, MetricDesc } from './types.js';

const CGROUP: LabelDesc = { name: 'cgroup', bound: 'cgroups under --cgroup.include/--cgroup.exclude, at most --cgroup.max-depth deep' };
const POD_UID: LabelDesc = { name: 'pod_uid', bound: 'one per cgroup, when a Kubernetes path carries it' };
const CONTAINER_ID: LabelDesc = { name: 'container_id', bound: 'one per cgroup, when a container runtime path carries it' };
const PID: LabelDesc = { name: 'pid', bound: 'only the --process.top processes by resident memory plus --process.include matches' };
const COMM: LabelDesc = { name: 'comm', bound: 'one per selected pid' };
const GROUP: LabelDesc = { name: 'group', bound: 'comm names on the host, or the config rules\' names' };
const COLLECTOR: LabelDesc = { name: 'collector', bound: 'the fixed list of collectors' };

const CG = [CGROUP, POD_UID, CONTAINER_ID] as const;
const PROC = [PID, COMM, CGROUP] as const;

function m(prom: string, otel: string, unit: string, kind: Kind, help: string, labels: readonly LabelDesc[], source: string): MetricDesc {
  return { key: prom.replace(/^memlens_/, ''), prom, otel, unit, kind, help, labels, source };
}

// ---- per cgroup (v1 and v2 give the same names; a file the kernel lacks gives no sample)
export const cgroupUsage = m('memlens_cgroup_memory_usage_bytes', 'memlens.cgroup.memory.usage', 'By', 'gauge',
  'Memory charged to the cgroup and its descendants.', CG, 'v1 memory.usage_in_bytes; v2 memory.current');
export const cgroupLimit = m('memlens_cgroup_memory_limit_bytes', 'memlens.cgroup.memory.limit', 'By', 'gauge',
  'The cgroup\'s own hard memory limit; absent when unlimited.', CG, 'v1 memory.limit_in_bytes; v2 memory.max');
export const cgroupEffectiveLimit = m('memlens_cgroup_memory_effective_limit_bytes', 'memlens.cgroup.memory.effective_limit', 'By', 'gauge',
  'The limit that really applies: the tightest of the cgroup\'s own, its ancestors\' and the host\'s RAM.', CG,
  'v1 memory.stat hierarchical_memory_limit; v2 min of memory.max over ancestors; capped by MemTotal');
export const cgroupWorkingSet = m('memlens_cgroup_memory_working_set_bytes', 'memlens.cgroup.memory.working_set', 'By', 'gauge',
  'Usage minus inactive file cache, at least 0: what the kubelet evicts on.', CG, 'v1 usage - total_inactive_file; v2 current - inactive_file');
export const cgroupStat = m('memlens_cgroup_memory_stat_bytes', 'memlens.cgroup.memory.stat', 'By', 'gauge',
  'memory.stat byte items (hierarchical on v1), v2 item names.', [...CG, { name: 'item', bound: 'the fixed list of byte-valued memory.stat keys' }],
  'v1 memory.stat total_*, memory.kmem.usage_in_bytes -> kernel; v2 memory.stat');
export const cgroupPeak = m('memlens_cgroup_memory_peak_bytes', 'memlens.cgroup.memory.peak', 'By', 'gauge',
  'Highest usage recorded by the kernel since the cgroup was created (or reset).', CG, 'v1 memory.max_usage_in_bytes; v2 memory.peak (5.19+)');
export const cgroupSwap = m('memlens_cgroup_memory_swap_usage_bytes', 'memlens.cgroup.memory.swap_usage', 'By', 'gauge',
  'Swap used by the cgroup.', CG, 'v1 memory.memsw.usage_in_bytes - memory.usage_in_bytes; v2 memory.swap.current');
export const cgroupEvents = m('memlens_cgroup_memory_events_total', 'memlens.cgroup.memory.events', '{event}', 'counter',
  'Memory events of the cgroup (hierarchical).', [...CG, { name: 'event', bound: 'the kernel\'s memory.events keys' }],
  'v1 memory.failcnt -> max, memory.oom_control oom_kill -> oom_kill; v2 memory.events');
export const cgroupOomKills = m('memlens_cgroup_memory_oom_kills_total', 'memlens.cgroup.memory.oom_kills', '{kill}', 'counter',
  'Processes of this cgroup killed by any OOM killer.', CG, 'v1 memory.oom_control oom_kill; v2 memory.events oom_kill');
export const cgroupUnderOom = m('memlens_cgroup_memory_under_oom', 'memlens.cgroup.memory.under_oom', '{state}', 'gauge',
  '1 while the cgroup is under OOM (the killer disabled or working), else 0.', CG, 'v1 memory.oom_control under_oom');
export const cgroupPressure = m('memlens_cgroup_memory_pressure_seconds_total', 'memlens.cgroup.memory.pressure', 's', 'counter',
  'Time tasks of the cgroup were stalled on memory (PSI).', [...CG, { name: 'kind', bound: 'some, full' }], 'v2 memory.pressure total');
export const cgroupProcesses = m('memlens_cgroup_processes', 'memlens.cgroup.processes', '{process}', 'gauge',
  'Processes directly in the cgroup.', CG, 'cgroup.procs');
export const cgroupStatEvents = m('memlens_cgroup_memory_stat_events_total', 'memlens.cgroup.memory.stat_events', '{event}', 'counter',
  'memory.stat event counters (hierarchical on v1), v2 item names: page faults, major faults, refaults and activations/restores of evicted pages (thrashing), pages scanned/reclaimed; v1 pages charged/uncharged.',
  [...CG, { name: 'item', bound: 'the selected event keys of memory.stat (default: pgfault, pgmajfault, workingset_refault/activate/restore_anon/_file, pgscan, pgsteal, v1 pgpgin/pgpgout)' }],
  'v1 memory.stat total_pgfault, total_pgmajfault, total_pgpgin, total_pgpgout, total_workingset_refault_*; v2 memory.stat');
export const cgroupHigh = m('memlens_cgroup_memory_high_bytes', 'memlens.cgroup.memory.high', 'By', 'gauge',
  'The throttling limit: above it the cgroup\'s tasks are throttled and reclaimed from, never OOM-killed; absent when max.', CG, 'v2 memory.high');
export const cgroupLow = m('memlens_cgroup_memory_low_bytes', 'memlens.cgroup.memory.low', 'By', 'gauge',
  'Best-effort protection from reclaim; absent when 0 (none) or max.', CG, 'v2 memory.low');
export const cgroupMin = m('memlens_cgroup_memory_min_bytes', 'memlens.cgroup.memory.min', 'By', 'gauge',
  'Hard protection from reclaim; absent when 0 (none) or max.', CG, 'v2 memory.min');
export const cgroupSoftLimit = m('memlens_cgroup_memory_soft_limit_bytes', 'memlens.cgroup.memory.soft_limit', 'By', 'gauge',
  'The soft limit: under host memory pressure the kernel reclaims first from cgroups above it; absent when unlimited.', CG, 'v1 memory.soft_limit_in_bytes');
export const cgroupSwapLimit = m('memlens_cgroup_memory_swap_limit_bytes', 'memlens.cgroup.memory.swap_limit', 'By', 'gauge',
  'Swap the cgroup may use (swap alone, as memlens_cgroup_memory_swap_usage_bytes); absent when unlimited. v1 limits memory+swap together: this is that limit minus the memory limit.', CG,
  'v1 memory.memsw.limit_in_bytes - memory.limit_in_bytes; v2 memory.swap.max');
export const cgroupIntervalPeak = m('memlens_cgroup_memory_interval_peak_bytes', 'memlens.cgroup.memory.interval_peak', 'By', 'gauge',
  'Highest usage since the previous collection.', CG, 'v2 memory.peak through a held fd reset after each read (kernels with per-fd reset)');

// Kubernetes names, from the kubelet (--kubernetes.kubelet): one series per cgroup whose path carries
// a pod uid the kubelet knows, to join on (`* on (cgroup) group_left(namespace, pod, container)`),
// so the per-cgroup series themselves stay small.
export const cgroupKubernetesInfo = m('memlens_cgroup_kubernetes_info', 'memlens.cgroup.kubernetes.info', '{info}', 'gauge',
  'Always 1: the namespace, pod and container names of a cgroup whose path carries a pod uid the kubelet knows.',
  [CGROUP, POD_UID, CONTAINER_ID,
    { name: 'namespace', bound: 'one per pod uid' },
    { name: 'pod', bound: 'one per pod uid' },
    { name: 'container', bound: 'one per container id' }],
  'cgroup path (pod uid, container id) + kubelet GET /pods');

// ---- per process (selected processes only)
function p(what: string, otelWhat: string, help: string, source: string): MetricDesc {
  return m(`memlens_process_${what}_bytes`, `memlens.process.${otelWhat}`, 'By', 'gauge', help, PROC, source);
}
export const processResident = p('resident', 'resident', 'Resident set size (VmRSS).', '/proc/PID/status VmRSS');
export const processResidentAnon = p('resident_anon', 'resident_anon', 'Resident anonymous memory (RssAnon).', '/proc/PID/status RssAnon');
export const processResidentFile = p('resident_file', 'resident_file', 'Resident file mappings (RssFile).', '/proc/PID/status RssFile');
export const processResidentShmem = p('resident_shmem', 'resident_shmem', 'Resident shared memory (RssShmem).', '/proc/PID/status RssShmem');
export const processResidentPeak = p('resident_peak', 'resident_peak', 'Peak resident set size (VmHWM).', '/proc/PID/status VmHWM');
export const processVirtual = p('virtual', 'virtual', 'Virtual memory size (VmSize).', '/proc/PID/status VmSize');
export const processSwap = p('swap', 'swap', 'Swapped-out anonymous memory (VmSwap).', '/proc/PID/status VmSwap');
export const processPageTables = p('page_tables', 'page_tables', 'Page table size (VmPTE).', '/proc/PID/status VmPTE');
export const processPss = p('pss', 'pss', 'Proportional set size.', '/proc/PID/smaps_rollup Pss');
export const processPssAnon = p('pss_anon', 'pss_anon', 'Proportional set size of anonymous memory.', '/proc/PID/smaps_rollup Pss_Anon');
export const processPssFile = p('pss_file', 'pss_file', 'Proportional set size of file mappings.', '/proc/PID/smaps_rollup Pss_File');
export const processPssShmem = p('pss_shmem', 'pss_shmem', 'Proportional set size of shared memory.', '/proc/PID/smaps_rollup Pss_Shmem');
export const processUss = p('uss', 'uss', 'Unique set size: Private_Clean + Private_Dirty.', '/proc/PID/smaps_rollup');
export const processSwapPss = p('swap_pss', 'swap_pss', 'Proportional swap (SwapPss).', '/proc/PID/smaps_rollup SwapPss');
export const processOomScore = m('memlens_process_oom_score', 'memlens.process.oom_score', '{score}', 'gauge',
  'The OOM killer\'s badness score (0-2000, highest dies first).', PROC, '/proc/PID/oom_score');
export const processOomScoreAdj = m('memlens_process_oom_score_adj', 'memlens.process.oom_score_adj', '{score}', 'gauge',
  'oom_score_adj (-1000 never killed, 1000 first).', PROC, '/proc/PID/oom_score_adj');
export const processMinorFaults = m('memlens_process_minor_page_faults_total', 'memlens.process.minor_page_faults', '{fault}', 'counter',
  'Page faults served without reading from disk (minflt, all threads).', PROC, '/proc/PID/stat minflt');
export const processMajorFaults = m('memlens_process_major_page_faults_total', 'memlens.process.major_page_faults', '{fault}', 'counter',
  'Page faults that read the page from disk or swap (majflt, all threads): rising fast = thrashing.', PROC, '/proc/PID/stat majflt');
export const processSmapsReadSeconds = m('memlens_process_smaps_read_seconds_total', 'memlens.process.smaps_read', 's', 'counter',
  'Time spent reading smaps_rollup (the kernel walks each page table while the process waits).', [], 'memlens');
export const processSmapsSkipped = m('memlens_process_smaps_skipped_total', 'memlens.process.smaps_skipped', '{process}', 'counter',
  'smaps_rollup reads skipped because the process was above --process.smaps-max-rss.', [], 'memlens');

// ---- per process group (every process, bounded by group)
function g(what: string, help: string, source: string): MetricDesc {
  return m(`memlens_process_group_${what}_bytes`, `memlens.process.group.${what}`, 'By', 'gauge', help, [GROUP], source);
}
export const groupResident = g('resident', 'Sum of VmRSS over the group.', '/proc/PID/status VmRSS');
export const groupResidentAnon = g('resident_anon', 'Sum of RssAnon over the group.', '/proc/PID/status RssAnon');
export const groupResidentFile = g('resident_file', 'Sum of RssFile over the group.', '/proc/PID/status RssFile');
export const groupResidentShmem = g('resident_shmem', 'Sum of RssShmem over the group.', '/proc/PID/status RssShmem');
export const groupVirtual = g('virtual', 'Sum of VmSize over the group.', '/proc/PID/status VmSize');
export const groupSwap = g('swap', 'Sum of VmSwap over the group.', '/proc/PID/status VmSwap');
export const groupPageTables = g('page_tables', 'Sum of VmPTE over the group.', '/proc/PID/status VmPTE');
export const groupPss = g('pss', 'Sum of Pss over the group (with --process.smaps-scope=all).', '/proc/PID/smaps_rollup Pss');
export const groupUss = g('uss', 'Sum of USS over the group (with --process.smaps-scope=all).', '/proc/PID/smaps_rollup');
export const groupMinorFaults = m('memlens_process_group_minor_page_faults_total', 'memlens.process.group.minor_page_faults', '{fault}', 'counter',
  'Minor page faults of the group\'s processes, accumulated while memlens runs so it never goes down when a process exits.', [GROUP], '/proc/PID/stat minflt');
export const groupMajorFaults = m('memlens_process_group_major_page_faults_total', 'memlens.process.group.major_page_faults', '{fault}', 'counter',
  'Major page faults of the group\'s processes, accumulated while memlens runs so it never goes down when a process exits.', [GROUP], '/proc/PID/stat majflt');
export const groupProcesses = m('memlens_process_group_processes', 'memlens.process.group.processes', '{process}', 'gauge',
  'Processes in the group.', [GROUP], '/proc');

// ---- host
export const hostMemTotal = m('memlens_host_memory_total_bytes', 'memlens.host.memory.total', 'By', 'gauge', 'MemTotal.', [], '/proc/meminfo');
export const hostMemAvailable = m('memlens_host_memory_available_bytes', 'memlens.host.memory.available', 'By', 'gauge', 'MemAvailable.', [], '/proc/meminfo');
export const hostSwapTotal = m('memlens_host_memory_swap_total_bytes', 'memlens.host.memory.swap_total', 'By', 'gauge', 'SwapTotal.', [], '/proc/meminfo');
export const hostSwapFree = m('memlens_host_memory_swap_free_bytes', 'memlens.host.memory.swap_free', 'By', 'gauge', 'SwapFree.', [], '/proc/meminfo');
export const hostOomKills = m('memlens_host_oom_kills_total', 'memlens.host.oom_kills', '{kill}', 'counter',
  'OOM kills on the host since boot (4.13+).', [], '/proc/vmstat oom_kill');
export const hostPressure = m('memlens_host_memory_pressure_seconds_total', 'memlens.host.memory.pressure', 's', 'counter',
  'Time tasks were stalled on memory (PSI).', [{ name: 'kind', bound: 'some, full' }], '/proc/pressure/memory');

// ---- OOM kills from the kernel log (kept after the cgroup is gone)
export const oomKills = m('memlens_oom_kills_total', 'memlens.oom.kills', '{kill}', 'counter',
  'OOM kills reported by the kernel (cgroup = the victim\'s, oom_cgroup = the one whose limit was hit). Without /dev/kmsg: counted from the cgroups\' own counters, without comm.',
  [CGROUP, { name: 'oom_cgroup', bound: 'cgroups that had an OOM, at most 5000 label sets' }, { name: 'comm', bound: 'victims\' comm, at most 5000 label sets' },
    { name: 'constraint', bound: 'memcg, none, cpuset, memory_policy' }], '/dev/kmsg OOM reports');
export const oomLastKill = m('memlens_oom_last_kill_timestamp_seconds', 'memlens.oom.last_kill_timestamp', 's', 'gauge',
  'Time of the last OOM kill of a process of this cgroup.', [CGROUP], '/dev/kmsg OOM reports');
export const oomSourceUp = m('memlens_oom_source_up', 'memlens.oom.source_up', '{state}', 'gauge',
  '1 when the OOM report source is read; 0 with the reason (eacces: no CAP_SYSLOG, enoent: /dev/kmsg not mounted, error).',
  [{ name: 'source', bound: 'kmsg' }, { name: 'reason', bound: 'a few errno names' }], '/dev/kmsg');
export const kmsgRecordsLost = m('memlens_kmsg_records_lost_total', 'memlens.kmsg.records_lost', '{record}', 'counter',
  'Kernel log records overwritten before memlens read them (EPIPE, seq gaps).', [], '/dev/kmsg');
export const oomSeriesDropped = m('memlens_oom_series_dropped_total', 'memlens.oom.series_dropped', '{series}', 'counter',
  'OOM kill label sets not counted because 5000 already exist.', [], 'memlens');

// ---- early warning (src/watch): upward crossings of --watch.thresholds, from kernel notifications or polling
export const watchCrossings = m('memlens_watch_threshold_crossings_total', 'memlens.watch.threshold_crossings', '{crossing}', 'counter',
  'Upward crossings of a usage threshold (a fraction of the effective limit) by a watched cgroup.',
  [{ name: 'cgroup', bound: 'watched cgroups: at most --watch.max-cgroups at a time, at most 5000 label sets kept' },
    { name: 'threshold', bound: 'the --watch.thresholds fractions' }],
  'v1 cgroup.event_control on memory.usage_in_bytes; v2 memory.current polled adaptively (--watch.alloc-rate, --watch.poll-interval)');
export const watchLabelSetsDropped = m('memlens_watch_crossing_label_sets_dropped_total', 'memlens.watch.crossing_label_sets_dropped', '{series}', 'counter',
  'Crossing counter label sets dropped (least recently incremented first) because 5000 already exist: each is a counter reset to Prometheus.', [], 'memlens');
export const watchLateCrossings = m('memlens_watch_late_crossings_total', 'memlens.watch.late_crossings', '{crossing}', 'counter',
  'Upward crossings (also counted in memlens_watch_threshold_crossings_total) seen only after usage had fallen back below the threshold, through the kernel\'s high-water mark: the notification was handled late, typically after the OOM kill.',
  [], 'v1 memory.max_usage_in_bytes');
export const watchLatency = {
  ...m('memlens_watch_notification_latency_seconds', 'memlens.watch.notification_latency', 's', 'histogram',
    'From the kernel notification reaching memlens (the epoll batch dispatched on the JS thread, or the poll read done) to the event published on the bus.',
    [], 'memlens'),
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
} satisfies MetricDesc;

// ---- the live cgroup tree (src/cgroupfs/tree.ts) and how the watcher arms it
export const treeCgroups = m('memlens_cgroup_tree_cgroups', 'memlens.cgroup_tree.cgroups', '{cgroup}', 'gauge',
  'Memory cgroups in the live tree (at most --cgroup.max-depth deep).', [], 'cgroupfs directories, kept current by inotify');
export const treeRescans = m('memlens_cgroup_tree_rescans_total', 'memlens.cgroup_tree.rescans', '{rescan}', 'counter',
  'Full rescans of the cgroup tree: at start, on inotify queue overflow, on the --watch.refresh-interval timer, and while inotify cannot keep the tree current (unwatched).',
  [{ name: 'reason', bound: 'start, overflow, timer, unwatched' }], 'cgroupfs directories');
export const treeWatchFailures = m('memlens_cgroup_tree_watch_failures_total', 'memlens.cgroup_tree.watch_failures', '{failure}', 'counter',
  'inotify watches on cgroup directories the kernel refused (ENOSPC: fs.inotify.max_user_watches exhausted); the tree then relies on rescans.',
  [{ name: 'errno', bound: 'a few errno names' }], 'inotify_add_watch');
export const watchCgroups = m('memlens_watch_cgroups', 'memlens.watch.cgroups', '{cgroup}', 'gauge',
  'Cgroups watched for threshold crossings, by how: v1 kernel thresholds (eventfd) or polling.',
  [{ name: 'via', bound: 'v1-eventfd, poll' }], 'memlens');
export const watchPollFallbacks = m('memlens_watch_poll_fallbacks_total', 'memlens.watch.poll_fallbacks', '{cgroup}', 'counter',
  'Cgroups watched by polling because the kernel registration failed (EMFILE: out of file descriptors, or another errno).',
  [{ name: 'errno', bound: 'a few errno names' }], 'cgroup.event_control');

// ---- snapshots (src/forensics): evidence taken before the OOM kill
export const snapshotsTotal = m('memlens_snapshots_total', 'memlens.snapshots', '{snapshot}', 'counter',
  'Snapshots attempted, by trigger (threshold crossing, API, CLI) and result (ok, error: full disk, read-only dir, cgroup gone; debounced: within --snapshot.min-interval; refused: --snapshot.max-concurrent, --snapshot.min-free, or an API request for the root or a too-big cgroup).',
  [{ name: 'reason', bound: 'threshold, api, cli' }, { name: 'result', bound: 'ok, error, debounced, refused' }], 'memlens');
export const snapshotDuration = m('memlens_snapshot_duration_seconds', 'memlens.snapshot.duration', 's', 'gauge',
  'How long the last successful snapshot took, capture and write (rule commands included).', [], 'memlens');
export const oomKillsWithSnapshot = m('memlens_oom_kills_with_snapshot_total', 'memlens.oom.kills_with_snapshot', '{kill}', 'counter',
  'OOM kills linked to a snapshot of their cgroup (or an ancestor) taken before the kill.', [], '/dev/kmsg OOM reports and --snapshot.dir');
export const snapshotStoreBytes = m('memlens_snapshot_store_bytes', 'memlens.snapshot.store', 'By', 'gauge',
  'Bytes of snapshot documents kept in --snapshot.dir.', [], '--snapshot.dir');
export const snapshotStoreSnapshots = m('memlens_snapshot_store_snapshots', 'memlens.snapshot.store_snapshots', '{snapshot}', 'gauge',
  'Snapshot documents kept in --snapshot.dir.', [], '--snapshot.dir');

// ---- the exporter itself
export const collectorSuccess = m('memlens_collector_success', 'memlens.collector.success', '{success}', 'gauge',
  '1 when the collector read its area, 0 when it failed as a whole.', [COLLECTOR], 'memlens');
export const collectorDuration = m('memlens_collector_duration_seconds', 'memlens.collector.duration', 's', 'gauge',
  'How long the collector\'s last run took.', [COLLECTOR], 'memlens');
export const collectProblems = m('memlens_collect_problems_total', 'memlens.collect.problems', '{problem}', 'counter',
  'Parts of an area that could not be read (a pid, a cgroup, a file); the area still succeeded.',
  [COLLECTOR, { name: 'reason', bound: 'a fixed set of reasons per collector' }], 'memlens');
export const samplesDropped = m('memlens_samples_dropped_total', 'memlens.samples.dropped', '{sample}', 'counter',
  'Samples dropped because the collector went over its series budget.', [COLLECTOR], 'memlens');
export const buildInfo = m('memlens_build_info', 'memlens.build.info', '{info}', 'gauge',
  'Always 1; the version as a label.', [{ name: 'version', bound: 'one' }], 'memlens');

// ---- OTLP push (src/sinks/otlp.ts)
export const otlpExports = m('memlens_otlp_exports_total', 'memlens.otlp.exports', '{export}', 'counter',
  'OTLP export requests by signal (metrics, logs) and result (success, failure: receiver down, 4xx, 5xx, timeout; after the SDK\'s retries).',
  [{ name: 'signal', bound: 'metrics, logs' }, { name: 'result', bound: 'success, failure' }], 'memlens');

export const catalog: readonly MetricDesc[] = [
  cgroupUsage, cgroupLimit, cgroupEffectiveLimit, cgroupWorkingSet, cgroupStat, cgroupPeak, cgroupSwap, cgroupEvents,
  cgroupOomKills, cgroupUnderOom, cgroupPressure, cgroupProcesses, cgroupStatEvents, cgroupHigh, cgroupLow, cgroupMin,
  cgroupSoftLimit, cgroupSwapLimit, cgroupIntervalPeak, cgroupKubernetesInfo,
  processResident, processResidentAnon, processResidentFile, processResidentShmem, processResidentPeak, processVirtual,
  processSwap, processPageTables, processPss, processPssAnon, processPssFile, processPssShmem, processUss, processSwapPss,
  processOomScore, processOomScoreAdj, processMinorFaults, processMajorFaults, processSmapsReadSeconds, processSmapsSkipped,
  groupResident, groupResidentAnon, groupResidentFile, groupResidentShmem, groupVirtual, groupSwap, groupPageTables,
  groupPss, groupUss, groupMinorFaults, groupMajorFaults, groupProcesses,
  hostMemTotal, hostMemAvailable, hostSwapTotal, hostSwapFree, hostOomKills, hostPressure,
  oomKills, oomLastKill, oomSourceUp, kmsgRecordsLost, oomSeriesDropped,
  watchCrossings, watchLatency, watchLabelSetsDropped, watchLateCrossings,
  treeCgroups, treeRescans, treeWatchFailures, watchCgroups, watchPollFallbacks,
  snapshotsTotal, snapshotDuration, oomKillsWithSnapshot, snapshotStoreBytes, snapshotStoreSnapshots,
  collectorSuccess, collectorDuration, collectProblems, samplesDropped, buildInfo,
  otlpExports,
];
