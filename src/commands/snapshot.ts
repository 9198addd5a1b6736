// `memlens snapshot --cgroup PATH`: one capture into --snapshot.dir without the exporter running
// (same rules, same store and retention); prints the id and the file on stdout. Exit 0 when the
// snapshot was written, 1 when it was not (cgroup not found, dir not writable), 2 for bad usage.
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { HostFs } from '../host/hostFs.js';
import { ConfigError } from '../errors.js';
import { discoverHierarchy } from '../cgroupfs/hierarchy.js';
import { SnapshotService } from '../forensics/snapshots.js';

export async function snapshotCommand(cfg: Config, cgroup: string | undefined, log: Logger, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  if (cgroup === undefined || !cgroup.startsWith('/')) {
    process.stderr.write('memlens: snapshot needs --cgroup PATH (as /proc/PID/cgroup prints it, starting with /)\n');
    return 2;
  }
  const host = new HostFs(cfg.procRoot, cfg.sysRoot);
  const hierarchy = discoverHierarchy(host);
  // The CLI never holds the OOM killer: nothing would be left to restore it if it died.
  const svc = new SnapshotService({ host, hierarchy, config: { ...cfg.snapshot, hold: false }, log });
  try {
    svc.start();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`memlens: ${err.message}\n`);
    return 2;
  }
  const r = await svc.snapshot(cgroup, 'cli', 'memlens snapshot');
  await svc.close();
  if (!r.ok) {
    process.stderr.write(`memlens: snapshot of ${cgroup} failed: ${r.error}\n`);
    return 1;
  }
  out.write(`${JSON.stringify({ id: r.meta.id, path: r.meta.file, cgroup: r.meta.cgroup, processes: r.meta.processes, captureDurationMs: Math.round(r.doc.captureDurationMs * 10) / 10 })}\n`);
  return 0;
}
