// Kernel tests need root and a writable cgroup v1 memory controller (or /dev/kmsg, ...).
// On a developer's laptop without them they skip; under CI=true a missing capability fails.
import { accessSync, constants, readFileSync } from 'node:fs';

export const inCI = process.env['CI'] === 'true';

/**
 * Returns undefined when every capability is there, else the reason it is not.
 * Use: `const why = need(...); test('x', { skip: skipOrFail(why) }, ...)`.
 */
export function missingCgroupV1(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    accessSync('/sys/fs/cgroup/memory/cgroup.procs', constants.W_OK);
  } catch {
    return 'no writable cgroup v1 memory controller at /sys/fs/cgroup/memory';
  }
  return undefined;
}

export function missingKmsg(): string | undefined {
  try {
    accessSync('/dev/kmsg', constants.R_OK);
  } catch {
    return '/dev/kmsg not readable';
  }
  return undefined;
}

/** The memory cgroup (v1) this process lives in, relative to the hierarchy root. */
export function ownMemoryCgroup(): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers !== undefined && controllers.split(',').includes('memory')) return path ?? '/';
  }
  throw new Error('no memory controller line in /proc/self/cgroup');
}

/**
 * The `skip` option for node:test: false when nothing is missing; the reason when something is
 * missing on a laptop; and under CI a missing capability throws, so the run fails instead of skipping.
 */
export function skipOrFail(missing: string | undefined): string | false {
  if (missing === undefined) return false;
  if (inCI) throw new Error(`CI=true but a capability the kernel tests need is missing: ${missing}`);
  return missing;
}
