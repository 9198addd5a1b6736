#!/usr/bin/env node
// bench/arming: how soon a new cgroup is watched (issue 14: "within 50 ms of its mkdir or of the limit write,
// whichever comes last; a limit lowered or raised re-arms thresholds in the same time").
//
// usage (root, cgroup v1 memory controller writable; after `npx tsc -p .`):
//   node bench/arming/run.mjs [--cgroups 100] [--gap-ms 20] [--runs 1] [--memlens DIR] [--strace FILE]
//
// The real exporter (DIR/bin/memlens.js, default this checkout; --log.level debug, --cgroup.include on this bench's
// parent cgroup, the process collector off) runs as a child process; its log (stderr) is read line by line. Under a parent
// cgroup made here (under this process's own memory cgroup), `--cgroups` cgroups are made one after another,
// `--gap-ms` apart: mkdir, then the 256 MiB limit written at once (the way a container runtime does). For each:
//   arm     = the watcher's "watch: armed" log line - the end of the limit write (the later of mkdir and limit
//             write): from there the cgroup is watched (before s3-watch: its thresholds' eventfds and oom_control
//             registered in cgroup.event_control; since: polled through a held fd while they are being registered);
//   eventfds = the "watch: eventfds armed" line (the registrations done, polling stopped) - the same write; a build
//             that registers before "watch: armed" has no such line, and its arm time is used;
// then, once all are armed, each cgroup's limit is lowered to 128 MiB and raised back to 256 MiB, `--gap-ms` apart:
//   re-arm  = the "watch: limit changed, thresholds moved" line - the end of that write (before s5-watch: written once the
//             new thresholds were registered; since: when the cgroup is polled on the new thresholds, the registration
//             following off the event loop; bench/arming/rearm.mjs times that, and the event loop meanwhile).
// Times are wall-clock milliseconds on both sides (Date.now() here, the log line's `time` there: whole ms, so each
// figure is within 1 ms). Everything made is removed. Prints a markdown table of percentiles; writes results-<time>.json.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { arg, freePort, ownMemoryCgroup, pct, removeAll } from '../lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const N = Number(arg('cgroups', '100'));
const GAP_MS = Number(arg('gap-ms', '20'));
const RUNS = Number(arg('runs', '1'));
const MEMLENS = arg('memlens', repo);
const MiB = 2 ** 20;
const MEM = '/sys/fs/cgroup/memory';

async function oneRun(run) {
  const own = ownMemoryCgroup().path;
  const parentPath = `${own === '/' ? '' : own}/memlens-arming-${process.pid}-${run}`;
  const parentDir = join(MEM, parentPath);
  mkdirSync(parentDir);
  const port = await freePort();
  const esc = parentPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // --strace FILE: the exporter runs under `strace -f -T` (syscall times: where arming spends its time).
  const strace = arg('strace', undefined);
  const cmd = strace === undefined ? [process.execPath] : ['strace', '-f', '-T', '-tt', '-o', strace, '-e', 'trace=write,openat,read,pread64,inotify_add_watch,eventfd2,epoll_ctl', process.execPath];
  const child = spawn(cmd[0], [...cmd.slice(1), join(MEMLENS, 'bin/memlens.js'), '--web.listen-address', `127.0.0.1:${port}`,
    '--snapshot.dir', `/tmp/memlens-arming-${process.pid}`, '--cgroup.include', `^${esc}(/.*)?$`, '--collectors.disabled', 'process',
    '--log.level', 'debug'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // cgroup path -> log times (ms) of 'armed' and of 'limit changed' lines.
  const armed = new Map();
  const eventfds = new Map();
  const rearmed = new Map();
  const waiters = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    let o;
    try { o = JSON.parse(line); } catch { return; }
    const at = Date.parse(o.time);
    if (o.msg === 'watch: armed') {
      armed.set(o.cgroup, at);
      if (o.via === 'v1-eventfd') eventfds.set(o.cgroup, at);
    } else if (o.msg === 'watch: eventfds armed') eventfds.set(o.cgroup, at);
    else if (o.msg === 'watch: limit changed, thresholds moved') (rearmed.get(o.cgroup) ?? rearmed.set(o.cgroup, []).get(o.cgroup)).push(at);
    else return;
    for (const w of waiters.splice(0)) w();
  });
  const until = async (what, fn, ms) => {
    const deadline = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (armed: ${[...armed.keys()].join(' ')})`);
      await Promise.race([new Promise((r) => waiters.push(r)), sleep(50)]);
    }
  };
  const made = [];
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`memlens exited ${child.exitCode}`);
      try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break; } catch { /* not yet */ }
      if (i > 600) throw new Error('memlens did not come up');
      await sleep(50);
    }
    await sleep(2000);
    const load = [loadavg()[0]];
    const arm = [];
    for (let i = 0; i < N; i++) {
      const path = `${parentPath}/c${i}`;
      const dir = join(MEM, path);
      const t0 = Date.now();
      mkdirSync(dir);
      made.push(dir);
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(256 * MiB));
      arm.push({ path, mkdirMs: t0, limitMs: Date.now() });
      await sleep(GAP_MS);
    }
    await until('every cgroup armed', () => arm.every((a) => armed.has(a.path) && eventfds.has(a.path)), 30_000);
    const rearm = [];
    for (const a of arm) {
      for (const limit of [128 * MiB, 256 * MiB]) {
        const seen = rearmed.get(a.path)?.length ?? 0;
        writeFileSync(join(MEM, a.path, 'memory.limit_in_bytes'), String(limit));
        const r = { path: a.path, limit, writeMs: Date.now(), index: seen };
        rearm.push(r);
        await until(`${a.path} re-armed at ${limit}`, () => (rearmed.get(a.path)?.length ?? 0) > seen, 10_000);
        await sleep(GAP_MS);
      }
    }
    load.push(loadavg()[0]);
    return {
      arm: arm.map((a) => ({ ...a, armedMs: armed.get(a.path), fromLimitMs: armed.get(a.path) - a.limitMs, fromMkdirMs: armed.get(a.path) - a.mkdirMs,
        eventfdsMs: eventfds.get(a.path), eventfdsFromLimitMs: eventfds.get(a.path) - a.limitMs })),
      rearm: rearm.map((r) => ({ ...r, rearmedMs: rearmed.get(r.path)[r.index], ms: rearmed.get(r.path)[r.index] - r.writeMs })),
      load,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    for (const d of made.reverse()) await removeAll(d);
    await removeAll(parentDir);
  }
}

const runs = [];
for (let r = 0; r < RUNS; r++) runs.push(await oneRun(r));
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: MEMLENS, encoding: 'utf8' }).stdout.trim();
const out = join(here, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ commit, cgroups: N, gapMs: GAP_MS, runs }, null, 1));
const rows = [
  ['armed after the limit write (mkdir then limit, at once)', runs.flatMap((r) => r.arm.map((a) => a.fromLimitMs))],
  ['armed after the mkdir', runs.flatMap((r) => r.arm.map((a) => a.fromMkdirMs))],
  ['eventfds registered after the limit write', runs.flatMap((r) => r.arm.map((a) => a.eventfdsFromLimitMs))],
  ['re-armed after the limit lowered (256 -> 128 MiB)', runs.flatMap((r) => r.rearm.filter((x) => x.limit === 128 * MiB).map((x) => x.ms))],
  ['re-armed after the limit raised (128 -> 256 MiB)', runs.flatMap((r) => r.rearm.filter((x) => x.limit === 256 * MiB).map((x) => x.ms))],
];
console.log(`memlens ${commit}, ${N} cgroups x ${RUNS} run(s), ${GAP_MS} ms apart; load1 ${runs.map((r) => r.load.map((x) => x.toFixed(1)).join(' -> ')).join(', ')}`);
console.log('| measure | n | p50 ms | p90 ms | p99 ms | max ms | over 50 ms |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [name, xs] of rows) console.log(`| ${name} | ${xs.length} | ${pct(xs, 50)} | ${pct(xs, 90)} | ${pct(xs, 99)} | ${Math.max(...xs)} | ${xs.filter((x) => x > 50).length} |`);
console.log(`written ${out}`);
