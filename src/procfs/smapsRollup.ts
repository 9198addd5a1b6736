// /proc/PID/smaps_rollup (4.14+, commit 493b0e9d945f): one [rollup] entry summing smaps.
// Pss_Anon/Pss_File/Pss_Shmem: 5.3+ (commit ee2ad71b0756). USS = Private_Clean + Private_Dirty
// (+ Private_Hugetlb). Reading it walks the whole page table of the process: see DESIGN.md.
import type { ParseError } from '../errors.js';
import { scanKbFields, type Parsed } from './common.js';

const WANTED: ReadonlySet<string> = new Set([
  'Rss', 'Pss', 'Pss_Anon', 'Pss_File', 'Pss_Shmem', 'Private_Clean', 'Private_Dirty', 'Private_Hugetlb', 'Swap', 'SwapPss', 'Anonymous',
]);

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
  // The first line is the VMA header `start-end perms ... [rollup]`: it has no `Key:` form
  // that parses as a number, so it is skipped by parseKbFields without a problem.
  const problems: ParseError[] = [];
  const f = scanKbFields(text, path, WANTED, problems);
  const pc = f.get('Private_Clean');
  const pd = f.get('Private_Dirty');
  return {
    value: {
      rssBytes: f.get('Rss'),
      pssBytes: f.get('Pss'),
      pssAnonBytes: f.get('Pss_Anon'),
      pssFileBytes: f.get('Pss_File'),
      pssShmemBytes: f.get('Pss_Shmem'),
      ussBytes: pc === undefined || pd === undefined ? undefined : pc + pd + (f.get('Private_Hugetlb') ?? 0),
      swapBytes: f.get('Swap'),
      swapPssBytes: f.get('SwapPss'),
      anonymousBytes: f.get('Anonymous'),
    },
    problems,
  };
}
