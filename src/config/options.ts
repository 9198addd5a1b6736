// Every setting, once: its flag, its environment variable, its key in the YAML file, its
// default and its help. Flags > environment > file > defaults. `memlens --help` is built from it.
// Booleans are typed as Prometheus exporters' users type them (kingpin): `--x` alone turns x on,
// `--no-x` off, `--x=true|false` either; `true|false` in the environment, a YAML boolean in the file.

export type OptionKind = 'string' | 'int' | 'duration' | 'size' | 'regex' | 'list' | 'enum' | 'bool';

export interface OptionSpec {
  /** Flag name without dashes, also the dotted key path in the YAML file (`web.listen-address`). */
  readonly flag: string;
  readonly kind: OptionKind;
  /** Typed: a boolean for kind 'bool', text (parsed like any user value) otherwise. */
  readonly default: string | boolean | undefined;
  readonly help: string;
  readonly choices?: readonly string[];
}

export const OPTIONS = [
  { flag: 'web.listen-address', kind: 'string', default: ':9966', help: 'Address to listen on for HTTP ([host]:port).' },
  { flag: 'web.config.file', kind: 'string', default: undefined, help: 'TLS and basic auth: a file in the Prometheus exporter-toolkit web config format (tls_server_config, basic_auth_users with bcrypt hashes). Re-read when it changes. See README "Security".' },
  { flag: 'web.enable-snapshot-api', kind: 'bool', default: false, help: 'Allow POST /api/v1/snapshots (a capture and the snapshot.rules actions: signals and commands run as memlens\'s user). Off: 403.' },
  { flag: 'web.max-connections', kind: 'int', default: '64', help: 'Open HTTP connections beyond this are closed at once.' },
  { flag: 'web.telemetry-path', kind: 'string', default: '/metrics', help: 'Path under which to expose metrics.' },
  { flag: 'web.disable-metrics', kind: 'bool', default: false, help: 'Serve no metrics at --web.telemetry-path (push over OTLP only); /healthz and the API stay.' },
  { flag: 'otlp.endpoint', kind: 'string', default: undefined, help: 'Push metrics and OOM/early-warning log records over OTLP/HTTP to this base URL (as OTEL_EXPORTER_OTLP_ENDPOINT, which it overrides; OTEL_* variables configure the rest, see README).' },
  { flag: 'path.procfs', kind: 'string', default: '/proc', help: 'procfs mount point (/host/proc in a container).' },
  { flag: 'path.sysfs', kind: 'string', default: '/sys', help: 'sysfs mount point (/host/sys in a container).' },
  { flag: 'path.kmsg', kind: 'string', default: '/dev/kmsg', help: 'The kernel log device, read for OOM reports (needs CAP_SYSLOG; a regular file is read once).' },
  { flag: 'process.top', kind: 'int', default: '10', help: 'Per-pid series for the N processes with the most resident memory (0: none).' },
  { flag: 'process.include', kind: 'regex', default: undefined, help: 'Per-pid series also for processes whose comm matches this regex (and smaps_rollup whatever their size).' },
  { flag: 'process.smaps-interval', kind: 'duration', default: '60s', help: 'How often smaps_rollup (PSS, USS) is re-read for a process; 0s reads it on every collection.' },
  { flag: 'process.smaps-max-rss', kind: 'size', default: '4GiB', help: 'Skip smaps_rollup for processes resident above this (its cost grows with RSS), unless --process.include matches them.' },
  { flag: 'process.smaps-scope', kind: 'enum', default: 'selected', choices: ['selected', 'all', 'none'], help: 'Which processes get smaps_rollup read: the selected ones, all (adds PSS/USS to the group sums), or none.' },
  { flag: 'cgroup.include', kind: 'regex', default: undefined, help: 'Only export cgroups whose path matches this regex.' },
  { flag: 'cgroup.exclude', kind: 'regex', default: undefined, help: 'Do not export cgroups whose path matches this regex.' },
  { flag: 'cgroup.max-depth', kind: 'int', default: '16', help: 'Do not descend deeper than this below the hierarchy root.' },
  { flag: 'cgroup.stat-items', kind: 'list', default: 'anon,file,shmem,file_mapped,kernel,inactive_file,active_file,slab,sock,pgfault,pgmajfault,pgpgin,pgpgout,workingset_refault,workingset_activate,workingset_restore,workingset_refault_anon,workingset_refault_file,workingset_activate_anon,workingset_activate_file,workingset_restore_anon,workingset_restore_file,pgscan,pgsteal', help: 'Comma-separated memory.stat items exported per cgroup, byte items (memlens_cgroup_memory_stat_bytes) and event counters (memlens_cgroup_memory_stat_events_total) alike (v2 names; v1 total_* items are renamed to them), or all.' },
  { flag: 'collect.timeout', kind: 'duration', default: '10s', help: 'A collector slower than this is abandoned for this scrape (success 0).' },
  { flag: 'collect.min-interval', kind: 'duration', default: '1s', help: 'Scrapes (and OTLP exports) closer together than this share one collection.' },
  { flag: 'collectors.disabled', kind: 'list', default: '', help: 'Comma-separated collectors to turn off (the list: memlens --help, or Collectors in the README).' },
  { flag: 'collectors.enabled', kind: 'list', default: '', help: 'Comma-separated collectors to turn on that are off by default.' },
  { flag: 'log.level', kind: 'enum', default: 'info', choices: ['debug', 'info', 'warn', 'error'], help: 'Log level.' },
  { flag: 'watch.enabled', kind: 'bool', default: true, help: 'Early warning: watch cgroups with a memory limit and report upward threshold crossings (log, /api/v1/events, metrics).' },
  { flag: 'watch.thresholds', kind: 'list', default: '0.9,0.95', help: 'Comma-separated fractions of each cgroup\'s effective limit whose upward crossing is an event.' },
  { flag: 'watch.poll-interval', kind: 'duration', default: '1s', help: 'Longest gap between two reads of memory.current where the kernel has no thresholds (cgroup v2, or v1 without write access to cgroup.event_control). Below it a cgroup is read before it could reach its next threshold at --watch.alloc-rate (as often as every 2 ms near it): see README "Early warning".' },
  { flag: 'watch.alloc-rate', kind: 'size', default: '1GiB', help: 'The allocation rate per second that polling (cgroup v2) is sized for: a cgroup H bytes below its next threshold is read again within H / this rate (or sooner, when it was seen growing faster).' },
  { flag: 'watch.max-cgroups', kind: 'int', default: '500', help: 'Watch at most this many cgroups, the tightest headroom first (only cgroups with an effective limit; --cgroup.include/--cgroup.exclude apply).' },
  { flag: 'watch.refresh-interval', kind: 'duration', default: '15s', help: 'Full rescan of the cgroup tree this often, the safety net behind inotify (which finds new cgroups and limit writes within milliseconds).' },
  { flag: 'snapshot.dir', kind: 'string', default: './snapshots', help: 'Directory of snapshot documents (one JSON file each; rules are snapshot.rules in --config).' },
  { flag: 'snapshot.min-interval', kind: 'duration', default: '30s', help: 'Threshold crossings (and API requests) for one cgroup closer together than this take one snapshot.' },
  { flag: 'snapshot.max-concurrent', kind: 'int', default: '4', help: 'At most this many captures at once (any trigger); more are refused and counted (result="refused"), API requests get 429.' },
  { flag: 'snapshot.api-max-processes', kind: 'int', default: '1000', help: 'POST /api/v1/snapshots refuses a cgroup (with its descendants) holding more processes than this.' },
  { flag: 'snapshot.api-allow-root', kind: 'bool', default: false, help: 'Let POST /api/v1/snapshots capture the root cgroup (every process of the host, rules applied in every cgroup).' },
  { flag: 'snapshot.max-hook-output', kind: 'size', default: '8MiB', help: 'Total output kept from all rule commands of one snapshot; commands still printing past it are killed.' },
  { flag: 'snapshot.min-free', kind: 'size', default: '256MiB', help: 'No snapshot is taken when the snapshot filesystem has less free space than this.' },
  { flag: 'snapshot.cmdline', kind: 'bool', default: false, help: 'Keep full command lines in snapshots (they carry secrets); by default argv[0] only. environ is never read.' },
  { flag: 'snapshot.max-count', kind: 'int', default: '200', help: 'Keep at most this many snapshots (oldest removed first).' },
  { flag: 'snapshot.max-bytes', kind: 'size', default: '512MiB', help: 'Keep at most this many bytes of snapshots (oldest removed first).' },
  { flag: 'snapshot.max-age', kind: 'duration', default: '168h', help: 'Remove snapshots older than this.' },
  { flag: 'snapshot.link-window', kind: 'duration', default: '10m', help: 'An OOM kill is linked to the newest snapshot of its cgroup (or an ancestor) taken at most this long before it.' },
  { flag: 'snapshot.hold', kind: 'bool', default: false, help: 'cgroup v1 only: on the top threshold, set oom_kill_disable=1 while the snapshot is taken (the kernel waits instead of killing). Risky: see README.' },
  { flag: 'snapshot.hold-max', kind: 'duration', default: '2s', help: 'The longest the OOM killer is held off by --snapshot.hold.' },
  { flag: 'kubernetes.kubelet', kind: 'string', default: undefined, help: 'Base URL of this node\'s kubelet (https://NODE_IP:10250): pod and container names for memlens_cgroup_kubernetes_info. Off when unset.' },
  { flag: 'kubernetes.token-file', kind: 'string', default: '/var/run/secrets/kubernetes.io/serviceaccount/token', help: 'Bearer token sent to the kubelet, re-read before each request (none when the file is absent).' },
  { flag: 'kubernetes.ca-file', kind: 'string', default: undefined, help: 'CA bundle that signed the kubelet\'s serving certificate (default: the system CAs).' },
  { flag: 'kubernetes.insecure-skip-tls-verify', kind: 'bool', default: false, help: 'Do not verify the kubelet\'s certificate (kubelets with self-signed serving certificates).' },
  { flag: 'kubernetes.refresh-min-interval', kind: 'duration', default: '10s', help: 'Ask the kubelet again (when a cgroup shows an unknown pod or container) at most this often.' },
] as const satisfies readonly OptionSpec[];

export type OptionFlag = (typeof OPTIONS)[number]['flag'];

/** `web.listen-address` -> `MEMLENS_WEB_LISTEN_ADDRESS`. */
export function envName(flag: string): string {
  return `MEMLENS_${flag.replace(/[.-]/g, '_').toUpperCase()}`;
}
