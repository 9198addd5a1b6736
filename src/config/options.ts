// Every setting, once: its flag, its environment variable, its key in the YAML file, its
// default and its help. Flags > environment > file > defaults. `memlens --help` is built from it.

export type OptionKind = 'string' | 'int' | 'duration' | 'size' | 'regex' | 'list' | 'enum';

export interface OptionSpec {
  /** Flag name without dashes, also the dotted key path in the YAML file (`web.listen-address`). */
  readonly flag: string;
  readonly kind: OptionKind;
  readonly default: string | undefined;
  readonly help: string;
  readonly choices?: readonly string[];
}

export const OPTIONS = [
  { flag: 'web.listen-address', kind: 'string', default: ':9966', help: 'Address to listen on for HTTP ([host]:port).' },
  { flag: 'web.telemetry-path', kind: 'string', default: '/metrics', help: 'Path under which to expose metrics.' },
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
  { flag: 'collect.timeout', kind: 'duration', default: '10s', help: 'A collector slower than this is abandoned for this scrape (success 0).' },
  { flag: 'collect.min-interval', kind: 'duration', default: '1s', help: 'Scrapes (and OTLP exports) closer together than this share one collection.' },
  { flag: 'collectors.disabled', kind: 'list', default: '', help: 'Comma-separated collectors to turn off (process, cgroup, host, oom).' },
  { flag: 'log.level', kind: 'enum', default: 'info', choices: ['debug', 'info', 'warn', 'error'], help: 'Log level.' },
] as const satisfies readonly OptionSpec[];

export type OptionFlag = (typeof OPTIONS)[number]['flag'];

/** `web.listen-address` -> `MEMLENS_WEB_LISTEN_ADDRESS`. */
export function envName(flag: string): string {
  return `MEMLENS_${flag.replace(/[.-]/g, '_').toUpperCase()}`;
}
