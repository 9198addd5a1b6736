// Fast paths for the cgroup files read for every cgroup on every collection (a thousand cgroups: ten thousand
// files per scrape): numbers parsed straight from the bytes HostFs read (HostFs.readInto), with no string, no
// Map and no object per line. Each scanner takes only the exact form the kernel prints and answers "not mine"
// (NaN, undefined, false) for anything else; the caller then hands the text to the string parser (limit.ts,
// procfs/common.ts, memory.ts), so odd text gets exactly the value or the problem it always got.
// test/unit/cgroupfs/scan.test.ts checks that the two agree on the fixtures and on fuzzed text.
//
// The forms (kernel/cgroup/cgroup.c cgroup_seqfile_show, mm/memcontrol*.c):
// - one number: read_u64 files print "%llu\n", read_s64 "%lld\n" (memory.usage_in_bytes, memory.failcnt, ...);
// - a limit: the same, or "max\n" on v2 (memory.max, memory.high, ...); v1 prints PAGE_COUNTER_MAX * PAGE_SIZE
//   (9223372036854771712 with 4 KiB pages) for no limit;
// - flat keyed: "%s %llu\n" per line (memory.stat, memory.oom_control, memory.events).
// Pure: no IO.
import type { Limit } from './limit.js';
import { UNLIMITED } from './limit.js';

const NL = 10;
const SPACE = 32;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;
/** Digits that always fit a double exactly (10^15 < 2^53). */
const EXACT_DIGITS = 15;
/** 2^62 (limit.ts: at or above it a limit is "unlimited"), 19 digits. */
const UNLIMITED_FLOOR = '4611686018427387904';

/** `<digits>\n` or `-<digits>\n`, at most 15 digits, no leading zero: the value; NaN for anything else. */
export function scanInt(b: Uint8Array, len: number): number {
  if (len < 2 || b[len - 1] !== NL) return Number.NaN;
  let i = 0;
  const neg = b[0] === MINUS;
  if (neg) i = 1;
  const end = len - 1;
  const digits = end - i;
  if (digits < 1 || digits > EXACT_DIGITS || (digits > 1 && b[i] === ZERO)) return Number.NaN;
  let n = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c < ZERO || c > NINE) return Number.NaN;
    n = n * 10 + (c - ZERO);
  }
  return neg ? -n : n;
}

/**
 * Digits b[from..to) as a limit's byte count: the value when exact, Infinity at or above 2^62 (the limit is
 * "unlimited"), NaN when not plain digits or when between 2^53 and 2^62 (the string parser decides those).
 */
function limitDigits(b: Uint8Array, from: number, to: number): number {
  const digits = to - from;
  if (digits < 1 || (digits > 1 && b[from] === ZERO)) return Number.NaN;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c < ZERO || c > NINE) return Number.NaN;
    n = n * 10 + (c - ZERO);
  }
  if (digits <= EXACT_DIGITS) return n;
  if (digits > UNLIMITED_FLOOR.length) return Number.POSITIVE_INFINITY;
  if (digits < UNLIMITED_FLOOR.length) return Number.NaN;
  for (let i = 0; i < digits; i++) {
    const d = b[from + i]! - UNLIMITED_FLOOR.charCodeAt(i);
    if (d !== 0) return d > 0 ? Number.POSITIVE_INFINITY : Number.NaN;
  }
  return Number.POSITIVE_INFINITY; // exactly 2^62
}

/** `max\n` or `<digits>\n` as limit.ts parses it; undefined for anything else (then ask parseLimit). */
export function scanLimit(b: Uint8Array, len: number): Limit | undefined {
  if (len < 2 || b[len - 1] !== NL) return undefined;
  if (len === 4 && b[0] === 0x6d && b[1] === 0x61 && b[2] === 0x78) return UNLIMITED; // "max"
  const v = limitDigits(b, 0, len - 1);
  if (Number.isNaN(v)) return undefined;
  return v === Number.POSITIVE_INFINITY ? UNLIMITED : { unlimited: false, bytes: v };
}

/**
 * Values by key, in the order they were set, reused from one cgroup to the next (clear()) so that reading a
 * cgroup allocates nothing once warm. Iterates as [key, value] entries, like the Map it stands for.
 */
export class KeyedValues implements Iterable<[string, number]> {
  private readonly keyList: string[] = [];
  private readonly valueList: number[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  clear(): void {
    this.n = 0;
  }

  keyAt(i: number): string {
    return this.keyList[i]!;
  }

  valueAt(i: number): number {
    return this.valueList[i]!;
  }

  private indexOf(key: string): number {
    for (let i = 0; i < this.n; i++) if (this.keyList[i] === key) return i;
    return -1;
  }

  /** As Map.set: a key already there keeps its place and takes the new value. */
  set(key: string, value: number): void {
    const at = this.indexOf(key);
    if (at >= 0) {
      this.valueList[at] = value;
      return;
    }
    this.keyList[this.n] = key;
    this.valueList[this.n] = value;
    this.n++;
  }

  get(key: string): number | undefined {
    const at = this.indexOf(key);
    return at < 0 ? undefined : this.valueList[at];
  }

  has(key: string): boolean {
    return this.indexOf(key) >= 0;
  }

  /** Replaces the content with a Map's entries (the string parser's result). */
  assign(from: ReadonlyMap<string, number>): void {
    this.n = 0;
    for (const [k, v] of from) this.set(k, v);
  }

  toMap(): Map<string, number> {
    const m = new Map<string, number>();
    for (let i = 0; i < this.n; i++) m.set(this.keyList[i]!, this.valueList[i]!);
    return m;
  }

  *[Symbol.iterator](): IterableIterator<[string, number]> {
    for (let i = 0; i < this.n; i++) yield [this.keyList[i]!, this.valueList[i]!];
  }
}

/** What a key of a KeyTable stands for: which output it goes to, and under which name. */
export interface KeyTarget {
  /** Index of the KeyedValues (in the array handed to scanKeyed) the value goes to. */
  readonly out: number;
  /** The name it is stored under (a v1 total_* key is stored under its v2 name). */
  readonly name: string;
  /** A limit (hierarchical_memory_limit): Infinity when at or above 2^62, as parseLimit says unlimited. */
  readonly limit?: boolean;
}

/**
 * The keys one scanner looks for, found by their bytes (a hash while the line is scanned, then a byte compare),
 * so that no key string is made for a line. Keys not in the table are skipped (but their line must still have
 * the kernel's form).
 */
export class KeyTable {
  private readonly keys: Uint8Array[];
  private readonly targets: KeyTarget[];
  private readonly slots: Int32Array;
  private readonly mask: number;
  /** Per key, the scan that last saw it: a key seen twice in one file sends the file to the string parser. */
  private readonly seenIn: Int32Array;
  private scan = 0;

  constructor(entries: readonly (readonly [string, KeyTarget])[]) {
    this.keys = entries.map(([k]) => Buffer.from(k, 'latin1'));
    this.targets = entries.map(([, t]) => t);
    let size = 16;
    while (size < entries.length * 4) size *= 2;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    this.seenIn = new Int32Array(entries.length);
    this.keys.forEach((k, id) => {
      let s = hashBytes(k, 0, k.length) & this.mask;
      while (this.slots[s] !== -1) s = (s + 1) & this.mask;
      this.slots[s] = id;
    });
  }

  /** Starts a new file (for the duplicate check). */
  begin(): void {
    this.scan++;
  }

  /** The key's id, or -1 when b[from..to) is not a key of the table. */
  find(b: Uint8Array, from: number, to: number, hash: number): number {
    for (let s = hash & this.mask; ; s = (s + 1) & this.mask) {
      const id = this.slots[s]!;
      if (id === -1) return -1;
      const k = this.keys[id]!;
      if (k.length !== to - from) continue;
      let i = 0;
      while (i < k.length && k[i] === b[from + i]) i++;
      if (i === k.length) return id;
    }
  }

  target(id: number): KeyTarget {
    return this.targets[id]!;
  }

  /** False when the key was already seen in this file. */
  firstSight(id: number): boolean {
    if (this.seenIn[id] === this.scan) return false;
    this.seenIn[id] = this.scan;
    return true;
  }
}

function hashBytes(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * `key value\n` lines exactly as the kernel prints them: each key of `table` found is stored into outs[target.out]
 * under target.name, in file order. Returns false, having stored a part only, at the first line not of that
 * form: a key with a byte outside '!'..'~', not one space before the value, a value that is not `-?digits`
 * (exact: at most 15 digits for a key of the table), a missing last newline, a key of the table seen twice.
 * Then the caller parses the text with the string parser instead (the outs are to be cleared by it).
 */
export function scanKeyed(b: Uint8Array, len: number, table: KeyTable, outs: readonly KeyedValues[]): boolean {
  if (len > 0 && b[len - 1] !== NL) return false;
  table.begin();
  let i = 0;
  while (i < len) {
    const start = i;
    let h = 0x811c9dc5;
    let c = b[i]!;
    while (c > SPACE && c < 0x7f) {
      h = Math.imul(h ^ c, 0x01000193);
      c = b[++i]!;
    }
    if (c !== SPACE || i === start) return false;
    const keyEnd = i;
    i++;
    const neg = b[i] === MINUS;
    if (neg) i++;
    const from = i;
    for (c = b[i]!; c >= ZERO && c <= NINE; c = b[++i]!);
    if (c !== NL || i === from) return false;
    const id = table.find(b, start, keyEnd, h >>> 0);
    if (id >= 0) {
      if (!table.firstSight(id)) return false;
      const t = table.target(id);
      let v: number;
      if (t.limit === true) {
        if (neg) return false;
        v = limitDigits(b, from, i);
      } else {
        if (i - from > EXACT_DIGITS) return false;
        v = 0;
        for (let j = from; j < i; j++) v = v * 10 + (b[j]! - ZERO);
        if (neg) v = -v;
      }
      if (Number.isNaN(v)) return false;
      outs[t.out]!.set(t.name, v);
    }
    i++;
  }
  return true;
}
