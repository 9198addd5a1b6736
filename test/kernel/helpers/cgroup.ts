// Test cgroups (v1 memory) under the test process's own memory cgroup: unique names, removal
// that tolerates partial setup, and cleanup of what a crashed earlier run left behind.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ownMemoryCgroup } from '../../helpers/capability.js';

export const V1_MEMORY_MOUNT = '/sys/fs/cgroup/memory';
export const TEST_PREFIX = 'memlens-test-';

/** `/a/b` + `c` as the kernel prints cgroup paths (the root is `/`). */
export function joinCgroupPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

export interface TestCgroup {
  /** Path relative to the hierarchy root, as /proc/PID/cgroup prints it. */
  path: string;
  /** Directory under the v1 memory mount. */
  dir: string;
}

export function ownCgroup(): TestCgroup {
  const path = ownMemoryCgroup();
  return { path, dir: join(V1_MEMORY_MOUNT, path) };
}

/** A unique child name: prefix, our pid (so a live run's dirs are recognisable), a random part. */
export function uniqueName(): string {
  return `${TEST_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

export function makeCgroup(parent: TestCgroup, name: string): TestCgroup {
  const dir = join(parent.dir, name);
  mkdirSync(dir);
  return { path: joinCgroupPath(parent.path, name), dir };
}

export function readCg(cg: TestCgroup, file: string): string {
  return readFileSync(join(cg.dir, file), 'utf8');
}

export function readCgInt(cg: TestCgroup, file: string): number {
  const t = readCg(cg, file).trim();
  if (!/^\d+$/.test(t)) throw new Error(`${cg.dir}/${file}: not an integer: ${JSON.stringify(t)}`);
  return Number(t);
}

export function writeCg(cg: TestCgroup, file: string, text: string): void {
  writeFileSync(join(cg.dir, file), text);
}

/** memory.stat as a map (bytes and counts as the kernel prints them). */
export function readCgStat(cg: TestCgroup): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readCg(cg, 'memory.stat').split('\n')) {
    const [k, v] = line.split(' ');
    if (k !== undefined && k !== '' && v !== undefined) out.set(k, Number(v));
  }
  return out;
}

function procsIn(dir: string): string[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  } catch {
    return [];
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/** True when the cgroup and all its descendants have no process. */
export function emptyTree(dir: string): boolean {
  return procsIn(dir).length === 0 && subdirs(dir).every((s) => emptyTree(join(dir, s)));
}

/**
 * rmdir a cgroup tree bottom-up, retrying EBUSY for a while (a killed task leaves the cgroup
 * only once it is fully gone). Moves nothing: a cgroup that still has processes stays, and the
 * last error is thrown.
 */
export async function removeTree(dir: string, timeoutMs = 5000): Promise<void> {
  if (!existsSync(dir)) return;
  for (const s of subdirs(dir)) await removeTree(join(dir, s), timeoutMs);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

/**
 * Removes `memlens-test-*` cgroups under `parent` left by an earlier run that crashed: only those
 * whose creating process is gone and that hold no process. Returns the names removed.
 */
export async function removeStale(parent: TestCgroup): Promise<string[]> {
  const removed: string[] = [];
  for (const name of subdirs(parent.dir)) {
    if (!name.startsWith(TEST_PREFIX)) continue;
    const owner = /^memlens-test-(\d+)-/.exec(name)?.[1];
    if (owner !== undefined && Number(owner) !== process.pid && existsSync(`/proc/${owner}`)) continue; // another run, alive
    const dir = join(parent.dir, name);
    if (!emptyTree(dir)) continue;
    try {
      await removeTree(dir, 1000);
      removed.push(name);
    } catch {
      // Someone else's, busy: leave it.
    }
  }
  return removed;
}
