// bench/lib.mjs: helpers shared by the Node bench scripts, written once here (bench/lib.sh is the shell scripts').
// Imported by bench/arming/rearm.mjs, bench/arming/run.mjs, bench/poll-idle/run.mjs, bench/oom-race/first-capture.mjs
// and bench/oom-race/run.mjs. Importing it runs nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The value after `--name` on the command line; `def` when the flag is absent or has nothing after it. */
export const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def; };

/** This process's memory cgroup as { path, v2 }: the first /proc/self/cgroup line of the v1 memory controller, or with allowV2 also of the unified hierarchy (0::). */
export function ownMemoryCgroup({ allowV2 = false } = {}) {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [h, ctl, path] = line.split(':');
    if (ctl === undefined) continue;
    const v2 = allowV2 && h === '0' && ctl === '';
    if (v2 || ctl.split(',').includes('memory')) return { path, v2 };
  }
  throw new Error(allowV2 ? 'no memory cgroup in /proc/self/cgroup' : 'no memory line in /proc/self/cgroup');
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick for a listen on port 0, closed again). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/** The p-th percentile of xs by nearest rank (the smallest value with at least p % of xs at or below it); undefined for none. */
export function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Removes the cgroup directory dir and every one below it, deepest first, retrying a busy rmdir 100 times 50 ms apart (then gives up silently); a missing dir is fine. */
export async function removeAll(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) await removeAll(join(dir, e.name));
  for (let i = 0; i < 100; i++) {
    try { rmdirSync(dir); return; } catch (err) { if (err.code === 'ENOENT') return; await sleep(50); }
  }
}

/** The short hash of HEAD in the checkout at dir, or '?' when git gives none. */
export const shortCommit = (dir) => spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).stdout.trim() || '?';
