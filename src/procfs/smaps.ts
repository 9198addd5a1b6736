// /proc/PID/smaps (Documentation/filesystems/proc.rst, "/proc/<pid>/smaps"): one block per VMA,
// a header `start-end perms offset dev inode [pathname]` followed by `Key: N kB` lines. Used by
// snapshots for the biggest mappings of a process, summed per name: a file path, or the kernel's
// [heap], [stack], [vdso]..., or [anon] for an anonymous mapping without a name (a JVM or V8
// heap is many of those). Anonymous: 2.6.22+; the header's pathname may contain spaces.
import { ParseError } from '../errors.js';
import type { Parsed } from './common.js';

export interface Mapping {
  name: string;
  /** How many VMAs carry this name. */
  vmas: number;
  sizeBytes: number;
  rssBytes: number;
  pssBytes: number;
  anonymousBytes: number;
  swapBytes: number;
}

const HEADER = /^[0-9a-f]+-[0-9a-f]+\s+\S{4}\s+[0-9a-f]+\s+\S+\s+\d+\s*(.*)$/;
const FIELD = /^(Size|Rss|Pss|Anonymous|Swap):\s+(\d+) kB$/;

/** The mappings of one smaps file summed per name, biggest RSS first, at most `top` of them. */
export function parseSmapsTop(text: string, path: string, top: number): Parsed<{ mappings: Mapping[]; vmaCount: number }> {
  const byName = new Map<string, Mapping>();
  const problems: ParseError[] = [];
  let cur: Mapping | undefined;
  let vmaCount = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const h = HEADER.exec(line);
    if (h !== null) {
      vmaCount++;
      const name = h[1] === undefined || h[1] === '' ? '[anon]' : h[1];
      cur = byName.get(name);
      if (cur === undefined) {
        cur = { name, vmas: 0, sizeBytes: 0, rssBytes: 0, pssBytes: 0, anonymousBytes: 0, swapBytes: 0 };
        byName.set(name, cur);
      }
      cur.vmas++;
      continue;
    }
    const f = FIELD.exec(line);
    if (f === null) {
      // Other keys (Shared_Clean, VmFlags, THPeligible, ...) are not wanted here; a line that is
      // neither a header nor `Key:` is malformed.
      if (!/^[A-Za-z_]+:/.test(line)) problems.push(new ParseError(`not a smaps line: ${JSON.stringify(line.slice(0, 60))}`, path, i + 1));
      continue;
    }
    if (cur === undefined) {
      problems.push(new ParseError('field before the first mapping header', path, i + 1));
      continue;
    }
    const bytes = Number(f[2]) * 1024;
    switch (f[1]) {
      case 'Size': cur.sizeBytes += bytes; break;
      case 'Rss': cur.rssBytes += bytes; break;
      case 'Pss': cur.pssBytes += bytes; break;
      case 'Anonymous': cur.anonymousBytes += bytes; break;
      case 'Swap': cur.swapBytes += bytes; break;
    }
  }
  const mappings = [...byName.values()].sort((a, b) => b.rssBytes - a.rssBytes || b.swapBytes - a.swapBytes).slice(0, top);
  return { value: { mappings, vmaCount }, problems };
}
