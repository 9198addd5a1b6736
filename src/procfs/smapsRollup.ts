// /proc/PID/smaps_rollup (4.14+, commit 493b0e9d945f): one [rollup] entry summing smaps.
// Pss_Anon/Pss_File/Pss_Shmem: 5.3+ (commit ee2ad71b0756). USS = Private_Clean + Private_Dirty
// (+ Private_Hugetlb). Reading it walks the whole page table of the process: see DESIGN.md.
import type { ParseError } from '../errors.js';
import { KbKeys, scanKbLines } from './kbScan.js';
import type { Parsed } from './common.js';

const KEYS = new KbKeys(['Rss', 'Pss', 'Pss_Anon', 'Pss_File', 'Pss_Shmem', 'Private_Clean', 'Private_Dirty', 'Private_Hugetlb', 'Swap', 'SwapPss', 'Anonymous']);
// Indexes into KEYS (and the values scanSmapsRollup returns).
const RSS = 0, PSS = 1, PSS_ANON = 2, PSS_FILE = 3, PSS_SHMEM = 4, PRIVATE_CLEAN = 5, PRIVATE_DIRTY = 6, PRIVATE_HUGETLB = 7, SWAP = 8, SWAP_PSS = 9, ANONYMOUS = 10;

export interface SmapsRollup {
  rssBytes: number | undefined;
  pssBytes: number | undefined;
  pssAnonBytes: number | undefined;
  pssFileBytes: number | undefined;
  pssShmemBytes: number | undefined;
  ussBytes: number | undefined;
  swapBytes: number | undefined;
  swapPssBytes: number | undefined;
  anonymousBytes: number | undefined;
}

export function parseSmapsRollup(text: string, path: string): Parsed<SmapsRollup> {
  const problems: ParseError[] = [];
  return { value: rollupOf(scanSmapsRollup(...bytesOf(text), path, problems)), problems };
}

/**
 * The rollup's values on the bytes as read, in a Float64Array reused from call to call (valid
 * until the next call; NaN = the line was not there): with --process.smaps-scope all the process
* b[0, len) is the file (HostFs.bytes after tryReadInto). With --process.smaps-scope all the process
 * collector reads smaps_rollup for every process and needs an object (rollupOf) only for those
 * it exports per pid. The first line is the VMA header `start-end perms ... [rollup]`: its first
 * byte is a hex digit, never a wanted key's, so it is skipped without a problem.
 */
export function scanSmapsRollup(b: Buffer, len: number, path: string, problems: ParseError[]): Float64Array {
  scanKbLines(b, len, KEYS, vals, path, problems);
  return vals;
}
const vals = new Float64Array(KEYS.keys.length);
const bytesOf = (text: string): [Buffer, number] => {
  const b = Buffer.from(text, 'utf8');
  return [b, b.length];
};

const field = (v: number): number | undefined => (Number.isNaN(v) ? undefined : v);

/** PSS of scanSmapsRollup's values (NaN when absent). */
export const rollupPss = (v: Float64Array): number => v[PSS]!;

/** USS = Private_Clean + Private_Dirty (+ Private_Hugetlb) of scanSmapsRollup's values (NaN when absent). */
export const rollupUss = (v: Float64Array): number => {
  const h = v[PRIVATE_HUGETLB]!;
  return v[PRIVATE_CLEAN]! + v[PRIVATE_DIRTY]! + (Number.isNaN(h) ? 0 : h);
};

export function rollupOf(v: Float64Array): SmapsRollup {
  return {
    rssBytes: field(v[RSS]!),
    pssBytes: field(v[PSS]!),
    pssAnonBytes: field(v[PSS_ANON]!),
    pssFileBytes: field(v[PSS_FILE]!),
    pssShmemBytes: field(v[PSS_SHMEM]!),
    ussBytes: field(rollupUss(v)),
    swapBytes: field(v[SWAP]!),
    swapPssBytes: field(v[SWAP_PSS]!),
    anonymousBytes: field(v[ANONYMOUS]!),
  };
}
