// The kernel log as the tests read it themselves, to check memlens against the kernel's own words.
import { closeSync, constants, openSync, readSync } from 'node:fs';

/** Every record now in the kernel ring (its own fd, non-blocking; reads need a buffer of at least 8 KiB). */
export function kmsgRecords(): string[] {
  const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  const out: string[] = [];
  const buf = Buffer.alloc(16 * 1024);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break;
        if (code === 'EPIPE') continue; // records overwritten while reading: go on with the next
        throw err;
      }
      if (n === 0) break;
      out.push(buf.subarray(0, n).toString('utf8'));
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

export interface KernelKilled {
  seq: number;
  usec: number;
  comm: string;
  anonRssKiB: number;
  text: string;
}

/** The last `Killed process <pid> (` record in the kernel ring. */
export function findKilledLine(pid: number): KernelKilled | undefined {
  let found: KernelKilled | undefined;
  for (const rec of kmsgRecords()) {
    const first = rec.split('\n')[0] ?? '';
    const h = /^\d+,(\d+),(\d+),[^;]*;(.*)$/.exec(first);
    if (h === null) continue;
    const m = new RegExp(`Killed process ${pid} \\((.*?)\\) total-vm:\\d+kB, anon-rss:(\\d+)kB`).exec(h[3]!);
    if (m !== null) found = { seq: Number(h[1]), usec: Number(h[2]), comm: m[1]!, anonRssKiB: Number(m[2]), text: h[3]! };
  }
  return found;
}
