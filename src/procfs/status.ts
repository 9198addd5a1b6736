// /proc/PID/status (Documentation/filesystems/proc.rst, "Contents of the status fields").
// RssAnon/RssFile/RssShmem: 4.5+. VmSwap: 2.6.34+. Kernel threads have no Vm* lines.
// proc.rst: RSS values here are kept per-thread-batched and "may not be very precise".
import type { ParseError } from '../errors.js';
import { badLine, fillNaN, kbValue, kbValueEnd, KbKeys, lineEnd } from './kbScan.js';
import type { Parsed } from './common.js';

export interface ProcStatus {
  name: string | undefined;
  residentBytes: number | undefined;
  residentAnonBytes: number | undefined;
  residentFileBytes: number | undefined;
  residentShmemBytes: number | undefined;
  residentPeakBytes: number | undefined;
  virtualBytes: number | undefined;
  swapBytes: number | undefined;
  pageTablesBytes: number | undefined;
}

// In the order of the fields of ProcStatus below.
const KEYS = new KbKeys(['VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'VmHWM', 'VmSize', 'VmSwap', 'VmPTE']);
const NAME = [78, 97, 109, 101, 58]; // "Name:"
const NL = 10;

export function emptyStatus(): ProcStatus {
  return {
    name: undefined,
    residentBytes: undefined,
    residentAnonBytes: undefined,
    residentFileBytes: undefined,
    residentShmemBytes: undefined,
    residentPeakBytes: undefined,
    virtualBytes: undefined,
    swapBytes: undefined,
    pageTablesBytes: undefined,
  };
}

export function parseStatus(text: string, path: string): Parsed<ProcStatus> {
  const value = emptyStatus();
  const problems: ParseError[] = [];
  const b = Buffer.from(text, 'utf8');
  scanStatus(b, b.length, path, value, problems);
  return { value, problems };
}

const vals = new Float64Array(KEYS.keys.length);
const field = (v: number): number | undefined => (Number.isNaN(v) ? undefined : v);

/**
 * parseStatus on the bytes as read, into `out` (every field overwritten): status is read for
 * every process on every collection, so the process collector reuses one ProcStatus and makes
 * no string but the name. One pass, up to the last wanted line; only lines starting with a wanted
 * key's first byte (V, R) or "Name:" are looked at closer.
 */
/**
 * b[0, len) is the file (HostFs.bytes after tryReadInto). `knownName`: the name this process had when last seen (the
 * process collector keeps it per /proc/PID handle): out.name is then that very string when the Name line still says
 * it, and no string is made.
 */
export function scanStatus(b: Buffer, len: number, path: string, out: ProcStatus, problems: ParseError[], knownName?: string): void {
  fillNaN(vals);
  out.name = undefined;
  let line = 0;
  let found = 0;
  for (let start = 0; start < len; line++) {
    let i = start;
    const c0 = b[i]!;
    if (KEYS.starts(c0)) {
      let h = 0;
      for (; i < len; i++) {
        const c = b[i]!;
        if (c === 58 || c === NL) break;
        h = (Math.imul(h, 31) + c) | 0;
      }
      const idx = i < len && b[i] === 58 ? KEYS.indexOf(b, start, i, h) : -1;
      if (idx >= 0) {
        const v = kbValue(b, i + 1, len);
        // A malformed line is a problem and leaves the field as it was (as parseStatus always did).
        if (Number.isNaN(v)) problems.push(badLine(b, start, len, path, line));
        else {
          if (Number.isNaN(vals[idx]!)) found++;
          vals[idx] = v;
          i = kbValueEnd();
        }
        // Every wanted line seen (they come before the signal, capability and cpu lines that
        // make up most of the file): the rest is not looked at.
        if (found === vals.length && out.name !== undefined) break;
      }
    } else if (c0 === NAME[0] && out.name === undefined && isName(b, start, len)) {
      // comm is at most 15 bytes; the kernel escapes \n and \\ in it.
      i = lineEnd(b, start + NAME.length, len);
      out.name = nameOf(b, start + NAME.length, i, knownName);
    }
    start = lineEnd(b, i, len) + 1;
  }
  out.residentBytes = field(vals[0]!);
  out.residentAnonBytes = field(vals[1]!);
  out.residentFileBytes = field(vals[2]!);
  out.residentShmemBytes = field(vals[3]!);
  out.residentPeakBytes = field(vals[4]!);
  out.virtualBytes = field(vals[5]!);
  out.swapBytes = field(vals[6]!);
  out.pageTablesBytes = field(vals[7]!);
}

/**
 * The Name line's value b[from, to) as a trimmed string: `known` itself when the bytes are exactly it (ASCII only,
 * blanks around it as String.prototype.trim removes them), else decoded as before.
 */
function nameOf(b: Buffer, from: number, to: number, known: string | undefined): string {
  if (known !== undefined) {
    let s = from;
    let e = to;
    while (s < e && isBlank(b[s]!)) s++;
    while (e > s && isBlank(b[e - 1]!)) e--;
    if (e - s === known.length) {
      let j = 0;
      for (; j < known.length; j++) {
        const c = b[s + j]!;
        // A byte >= 0x80 (UTF-8 of another character, or Unicode blanks that trim() removes) decides nothing here.
        if (c >= 0x80 || c !== known.charCodeAt(j)) break;
      }
      if (j === known.length) return known;
    }
  }
  return b.toString('utf8', from, to).trim();
}

/** The ASCII characters String.prototype.trim removes: tab, newline, vertical tab, form feed, carriage return, space. */
const isBlank = (c: number): boolean => (c >= 9 && c <= 13) || c === 32;

function isName(b: Buffer, start: number, len: number): boolean {
  if (start + NAME.length > len) return false;
  for (let j = 1; j < NAME.length; j++) if (b[start + j] !== NAME[j]) return false;
  return true;
}
