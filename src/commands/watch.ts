// `memlens watch`: the watcher without HTTP, for someone debugging a node by hand. Discovers the cgroups, watches
// them with the same flags as the exporter, prints one human-readable line per event on stdout (status on stderr,
// JSON log lines on stderr as always) until SIGINT/SIGTERM.
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { HostFs } from '../host/hostFs.js';
import { describe } from '../errors.js';
import { discoverHierarchy } from '../cgroupfs/hierarchy.js';
import { KernelEventLoop } from '../kernel/eventLoop.js';
import { CgroupTree } from '../cgroupfs/tree.js';
import { setupWatch } from '../watch/setup.js';
import type { WatchEvent } from '../watch/bus.js';

function mib(bytes: number | null): string {
  return bytes === null ? '?' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** One line per event: time, cgroup, what happened, usage of limit, source, handling latency. */
function formatEvent(ev: WatchEvent): string {
  const what =
    ev.threshold !== null
      ? `crossed ${+(ev.threshold * 100).toFixed(2)}% of its limit${ev.late === true ? ` (seen late: peak ${mib(ev.peakBytes ?? null)})` : ''}`
      : ev.event === 'oom' && ev.source === 'v1-oom'
        ? 'OOM (the cgroup hit its limit; the killer acts next)'
        : `${ev.event ?? 'event'}${ev.count !== undefined && ev.source === 'v2-events' ? ` +${ev.count}` : ''}`;
  const pct = ev.usageBytes !== null && ev.limitBytes !== null && ev.limitBytes > 0 ? ` (${((ev.usageBytes / ev.limitBytes) * 100).toFixed(1)}%)` : '';
  return `${new Date(ev.timeMs).toISOString()}  ${ev.cgroup}  ${what}  usage ${mib(ev.usageBytes)} of ${mib(ev.limitBytes)}${pct}  [${ev.source}, ${(ev.latencySeconds * 1000).toFixed(2)} ms]`;
}

export async function watchCommand(cfg: Config, log: Logger, out: NodeJS.WritableStream = process.stdout, status: NodeJS.WritableStream = process.stderr): Promise<number> {
  const host = new HostFs(cfg.procRoot, cfg.sysRoot);
  let hierarchy;
  try {
    hierarchy = discoverHierarchy(host);
  } catch (err) {
    status.write(`memlens: ${describe(err)}\n`);
    return 2;
  }
  if (hierarchy === undefined) {
    status.write('memlens watch: no cgroup memory controller found in mountinfo: nothing to watch\n');
    return 1;
  }
  let loop: KernelEventLoop | undefined;
  try {
    loop = new KernelEventLoop({ onError: (err) => log.error({ err: describe(err) }, 'kernel event loop error') });
  } catch (err) {
    log.warn({ err: describe(err) }, 'no kernel event loop (epoll through koffi): polling only');
  }
  const tree = new CgroupTree({ host, hierarchy, loop, maxDepth: cfg.cgroup.maxDepth, log, rescanIntervalMs: cfg.watch.refreshIntervalMs });
  try {
    tree.start();
  } catch (err) {
    status.write(`memlens watch: cannot read the cgroup hierarchy: ${describe(err)}\n`);
    await loop?.close();
    return 1;
  }
  const watch = setupWatch({ ...cfg, watch: { ...cfg.watch, enabled: true } }, tree, loop, log);
  watch.bus.on((ev) => out.write(`${formatEvent(ev)}\n`));
  // The watcher's timers do not hold the process; this does, until a signal.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await watch.start();
  const list = watch.watcher?.list() ?? [];
  const byEventfd = list.filter((w) => w.via === 'v1-eventfd').length;
  status.write(
    `memlens watch: cgroup ${hierarchy.mode}, ${list.length} cgroups watched (thresholds ${cfg.watch.thresholds.join(', ')} of the effective limit; ` +
      `${byEventfd} by kernel eventfds, ${list.length - byEventfd} polled every ${cfg.watch.pollIntervalMs} ms at most; new cgroups followed by inotify, rescanned every ${cfg.watch.refreshIntervalMs / 1000} s). Ctrl-C stops.\n`,
  );
  for (const w of list.slice(0, 10)) status.write(`  ${w.path}  limit ${mib(w.limitBytes)}  [${w.via}${w.psi ? ', psi' : ''}]\n`);
  if (list.length > 10) status.write(`  ... and ${list.length - 10} more\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  clearInterval(keepAlive);
  watch.close();
  tree.close();
  await loop?.close();
  return 0;
}
