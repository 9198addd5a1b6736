// `Key:   N kB` lines (/proc/PID/status, /proc/PID/smaps_rollup) scanned straight from the bytes
// the kernel returned: no string per file, per line or per key. These two files are read for every
// process on every collection (with --process.smaps-scope all), thousands of times per scrape, and
// decoding each to a string, slicing a key per line and looking it up in a Map cost more CPU than
// the rest of the collector. Pure: no IO, never throws on odd text.
import { ParseError } from '../errors.js';

const NL = 10;
const COLON = 58;
const SPACE = 32;
const TAB = 9;
const KB_SUFFIX = [SPACE, 107, 66]; // " kB"

/**
 * A fixed set of keys, looked up by the bytes before a line's colon. The lookup is an open-addressed table of the
 * keys' hashes in typed arrays, not a Map: it runs for every `V...`/`R...` line of every status and every line of
 * every smaps_rollup (about 35 per process with --process.smaps-scope all), and a Map lookup per line was the
 * collector's largest builtin in `perf` (bench/RESULTS.md, "session 4, pss").
 */
export class KbKeys {
  /** Per first byte: 1 when some key starts with it (other lines are skipped unread). */
  private readonly firstByte = new Uint8Array(256);
  /** Per slot: the index of the key + 1, or 0 for an empty slot. */
  private readonly slots: Int32Array;
  /** Per slot: that key's hash. */
  private readonly hashes: Int32Array;
  private readonly mask: number;
  private readonly bytes: Uint8Array[];

  constructor(readonly keys: readonly string[]) {
    this.bytes = keys.map((k) => Buffer.from(k, 'latin1'));
    let size = 16;
    while (size < keys.length * 4) size *= 2;
    this.slots = new Int32Array(size);
    this.hashes = new Int32Array(size);
    this.mask = size - 1;
    const seen = new Map<number, number>();
    this.bytes.forEach((b, i) => {
      this.firstByte[b[0]!] = 1;
      const h = hashOf(b, 0, b.length);
      if (seen.has(h)) throw new Error(`KbKeys: ${k(keys, i)} collides with ${k(keys, seen.get(h)!)}`);
      seen.set(h, i);
      let s = slotOf(h, this.mask);
      while (this.slots[s] !== 0) s = (s + 1) & this.mask;
      this.slots[s] = i + 1;
      this.hashes[s] = h;
    });
  }

  starts(c: number): boolean {
    return this.firstByte[c] === 1;
  }

  /** The index of the key b[start, end) with hash h, or -1. */
  indexOf(b: Uint8Array, start: number, end: number, h: number): number {
    let s = slotOf(h, this.mask);
    for (;;) {
      const slot = this.slots[s]!;
      if (slot === 0) return -1;
      // No two keys share a hash (the constructor checks): the first slot with h is the only candidate.
      if (this.hashes[s] === h) {
        const k = this.bytes[slot - 1]!;
        if (k.length !== end - start) return -1;
        for (let j = 0; j < k.length; j++) if (k[j] !== b[start + j]) return -1;
        return slot - 1;
      }
      s = (s + 1) & this.mask;
    }
  }
}

const slotOf = (h: number, mask: number): number => (h ^ (h >>> 16)) & mask;

/** out[0, out.length) = NaN, in a loop (TypedArray.prototype.fill is a builtin call, for 8-11 entries per file). */
export function fillNaN(out: Float64Array): void {
  for (let i = 0; i < out.length; i++) out[i] = NaN;
}

const k = (keys: readonly string[], i: number): string => keys[i] ?? '?';

function hashOf(b: Uint8Array, start: number, end: number): number {
  let h = 0;
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + b[i]!) | 0;
  return h;
}

/**
 * Scans every line of b[0, len) and, for each line `Key: N kB` whose key is in `keys`, writes
 * N * 1024 into out[index of the key]. A wanted line whose value is not `N kB` is a problem and
 * writes nothing. out is filled with NaN first: NaN = no such line (with a value).
 */
export function scanKbLines(b: Uint8Array, len: number, keys: KbKeys, out: Float64Array, path: string, problems: ParseError[]): void {
  fillNaN(out);
  let line = 0;
  for (let start = 0; start < len; line++) {
    let i = start;
    if (keys.starts(b[i]!)) {
      let h = 0;
      for (; i < len; i++) {
        const c = b[i]!;
        if (c === COLON || c === NL) break;
        h = (Math.imul(h, 31) + c) | 0;
      }
      if (i < len && b[i] === COLON) {
        const idx = keys.indexOf(b, start, i, h);
        if (idx >= 0) {
          const v = kbValue(b, i + 1, len);
          // A malformed line is a problem and leaves the key as it was (absent, or an earlier line's value).
          if (Number.isNaN(v)) problems.push(badLine(b, start, len, path, line));
          else {
            out[idx] = v;
            i = valueEnd;
          }
        }
      }
    }
    start = lineEnd(b, i, len) + 1;
  }
}

/** Where the line the last successful kbValue read ends: the index of its newline (or the end of the file). */
let valueEnd = 0;

/** The end of the line kbValue last parsed (valid right after a kbValue that did not return NaN). */
export function kbValueEnd(): number {
  return valueEnd;
}

/**
 * The value of `  N kB` from `at` (just after the colon) to the end of its line, in bytes; NaN
 * when the line is not exactly blanks, digits, " kB". On success kbValueEnd() is where the line ends, so that the
 * caller need not walk the value's bytes again to find it.
 */
export function kbValue(b: Uint8Array, at: number, len: number): number {
  let i = at;
  while (i < len && (b[i] === SPACE || b[i] === TAB)) i++;
  const digits = i;
  let n = 0;
  for (; i < len; i++) {
    const c = b[i]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  if (i === digits || i + 3 > len || b[i] !== KB_SUFFIX[0] || b[i + 1] !== KB_SUFFIX[1] || b[i + 2] !== KB_SUFFIX[2]) return NaN;
  if (i + 3 < len && b[i + 3] !== NL) return NaN;
  valueEnd = i + 3;
  return n * 1024;
}

/** The index of the first newline in b[i, len), or len. */
export function lineEnd(b: Uint8Array, i: number, len: number): number {
  while (i < len && b[i] !== NL) i++;
  return i;
}

/** A problem naming the line (its first 40 characters), for a wanted line that did not parse. */
export function badLine(b: Uint8Array, start: number, len: number, path: string, line: number): ParseError {
  let end = start;
  while (end < len && b[end] !== NL) end++;
  const text = Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');
  return new ParseError(`not "Key: N kB": ${JSON.stringify(text.slice(0, 40))}`, path, line + 1);
}
