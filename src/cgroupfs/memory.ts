// Reading one cgroup's memory files into one model, v1 or v2 (the cAdvisor way: read,
// normalise, expose). Parsers are pure; readMemoryCgroup does the IO through HostFs.
//
// v1: Documentation/admin-guide/cgroup-v1/memory.rst. v2: Documentation/admin-guide/cgroup-v2.rst.
// memory.peak: v2 since 5.19. memory.events oom_group_kill: 5.17. A file the kernel lacks gives undefined.
import type { HostFs } from '../host/hostFs.js';
import { describe, type ParseError } from '../errors.js';
import type { Problem } from '../model/types.js';
import { parseFlatKeyed, parseSingleInt } from '../procfs/common.js';
import { parsePressure, type Pressure } from '../procfs/pressure.js';
import { parseLimit, type Limit } from './limit.js';
import type { CgroupMode } from './discover.js';

export interface CgroupMemory {
  usageBytes: number | undefined;
  limit: Limit | undefined;
  /** v1: hierarchical_memory_limit from memory.stat (the kernel's own answer). v2: computed by the walker. */
  hierarchicalLimit: Limit | undefined;
  /** memory.stat byte items under their v2 names. */
  stat: Map<string, number>;
  inactiveFileBytes: number | undefined;
  peakBytes: number | undefined;
  swapBytes: number | undefined;
  events: Map<string, number>;
  oomKills: number | undefined;
  /** Kills of this cgroup's own processes only (v1 oom_control oom_kill is local; v2 memory.events.local). */
  oomKillsLocal: number | undefined;
  underOom: number | undefined;
  pressure: Pressure | undefined;
  processes: number | undefined;
}

/** v1 memory.stat key (hierarchical total_*) -> v2 name; DESIGN: v1 and v2 give the same names. */
export const V1_STAT_ITEMS: ReadonlyMap<string, string> = new Map([
  ['total_cache', 'file'],
  ['total_rss', 'anon'], // v1 rss is anon + swap cache (memory.rst 5.2): the nearest v2 item
  ['total_rss_huge', 'anon_thp'],
  ['total_shmem', 'shmem'],
  ['total_mapped_file', 'file_mapped'],
  ['total_dirty', 'file_dirty'],
  ['total_writeback', 'file_writeback'],
  ['total_swap', 'swap'],
  ['total_swapcached', 'swapcached'],
  ['total_inactive_anon', 'inactive_anon'],
  ['total_active_anon', 'active_anon'],
  ['total_inactive_file', 'inactive_file'],
  ['total_active_file', 'active_file'],
  ['total_unevictable', 'unevictable'],
]);

/** v2 memory.stat keys that are byte amounts (the rest are event counts: pgfault, workingset_*, ...). */
export const V2_STAT_BYTES: ReadonlySet<string> = new Set([
  'anon', 'file', 'kernel', 'kernel_stack', 'pagetables', 'sec_pagetables', 'percpu', 'sock', 'vmalloc', 'shmem',
  'zswap', 'zswapped', 'file_mapped', 'file_dirty', 'file_writeback', 'swapcached', 'anon_thp', 'file_thp', 'shmem_thp',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'slab_reclaimable', 'slab_unreclaimable', 'slab',
]);

function emptyCgroupMemory(): CgroupMemory {
  return {
    usageBytes: undefined, limit: undefined, hierarchicalLimit: undefined, stat: new Map(), inactiveFileBytes: undefined,
    peakBytes: undefined, swapBytes: undefined, events: new Map(), oomKills: undefined, oomKillsLocal: undefined, underOom: undefined,
    pressure: undefined, processes: undefined,
  };
}

export function countLines(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.trim() !== '') n++;
  return n;
}

/** v1 memory.stat: byte items renamed, plus the hierarchical limit. */
export function parseV1Stat(text: string, path: string): { stat: Map<string, number>; hierarchicalLimit: Limit | undefined; problems: ParseError[] } {
  const { value, problems } = parseFlatKeyed(text, path);
  const stat = new Map<string, number>();
  for (const [k, v] of value) {
    const item = V1_STAT_ITEMS.get(k);
    if (item !== undefined) stat.set(item, v);
  }
  // The value is printed near 2^63 when unlimited: re-read it exactly from the text.
  const m = /^hierarchical_memory_limit (\d+)$/m.exec(text);
  const hierarchicalLimit = m?.[1] === undefined ? undefined : parseLimit(m[1], path).value;
  return { stat, hierarchicalLimit, problems };
}

export function parseV2Stat(text: string, path: string): { stat: Map<string, number>; problems: ParseError[] } {
  const { value, problems } = parseFlatKeyed(text, path);
  const stat = new Map<string, number>();
  for (const [k, v] of value) if (V2_STAT_BYTES.has(k)) stat.set(k, v);
  if (!stat.has('slab') && stat.has('slab_reclaimable') && stat.has('slab_unreclaimable')) {
    stat.set('slab', stat.get('slab_reclaimable')! + stat.get('slab_unreclaimable')!);
  }
  return { stat, problems };
}

/** Reads one cgroup directory (a path under the sysfs root). Files that are absent give undefined. */
export function readMemoryCgroup(host: HostFs, dir: string, mode: CgroupMode, out: Problem[]): CgroupMemory {
  const cg = emptyCgroupMemory();
  const problems = {
    push(...errs: ParseError[]): void {
      for (const e of errs) out.push(e.path === undefined ? { reason: 'parse', message: e.message } : { reason: 'parse', message: e.message, path: e.path });
    },
  };
  const read = (file: string): [string, string] | undefined => {
    const path = `${dir}/${file}`;
    try {
      const text = host.tryRead(path);
      return text === undefined ? undefined : [text, path];
    } catch (err) {
      // EACCES, EOPNOTSUPP (memory.pressure with psi=0), ...: this file is lost, not the cgroup.
      out.push({ reason: 'read', message: describe(err), path });
      return undefined;
    }
  };
  const int = (file: string): number | undefined => {
    const r = read(file);
    if (r === undefined) return undefined;
    const p = parseSingleInt(...r);
    problems.push(...p.problems);
    return p.value;
  };
  const limit = (file: string): Limit | undefined => {
    const r = read(file);
    if (r === undefined) return undefined;
    const p = parseLimit(...r);
    problems.push(...p.problems);
    return p.value;
  };
  const keyed = (file: string): Map<string, number> | undefined => {
    const r = read(file);
    if (r === undefined) return undefined;
    const p = parseFlatKeyed(...r);
    problems.push(...p.problems);
    return p.value;
  };

  const procs = read('cgroup.procs');
  cg.processes = procs === undefined ? undefined : countLines(procs[0]);

  if (mode === 'v1') {
    cg.usageBytes = int('memory.usage_in_bytes');
    cg.limit = limit('memory.limit_in_bytes');
    const stat = read('memory.stat');
    if (stat !== undefined) {
      const s = parseV1Stat(...stat);
      problems.push(...s.problems);
      cg.stat = s.stat;
      cg.hierarchicalLimit = s.hierarchicalLimit;
      cg.inactiveFileBytes = s.stat.get('inactive_file');
    }
    cg.peakBytes = int('memory.max_usage_in_bytes');
    // memsw files exist only with swap accounting (swapaccount=1 / CONFIG_MEMCG_SWAP).
    const memsw = int('memory.memsw.usage_in_bytes');
    if (memsw !== undefined && cg.usageBytes !== undefined) cg.swapBytes = Math.max(0, memsw - cg.usageBytes);
    const failcnt = int('memory.failcnt');
    if (failcnt !== undefined) cg.events.set('max', failcnt);
    const oom = keyed('memory.oom_control');
    if (oom !== undefined) {
      cg.oomKills = oom.get('oom_kill');
      cg.underOom = oom.get('under_oom');
      cg.oomKillsLocal = cg.oomKills;
      if (cg.oomKills !== undefined) cg.events.set('oom_kill', cg.oomKills);
    }
  } else {
    cg.usageBytes = int('memory.current');
    cg.limit = limit('memory.max');
    const stat = read('memory.stat');
    if (stat !== undefined) {
      const s = parseV2Stat(...stat);
      problems.push(...s.problems);
      cg.stat = s.stat;
      cg.inactiveFileBytes = s.stat.get('inactive_file');
    }
    cg.peakBytes = int('memory.peak');
    cg.swapBytes = int('memory.swap.current');
    cg.events = keyed('memory.events') ?? new Map();
    cg.oomKills = cg.events.get('oom_kill');
    cg.oomKillsLocal = keyed('memory.events.local')?.get('oom_kill');
    const psi = read('memory.pressure');
    if (psi !== undefined) {
      const p = parsePressure(...psi);
      problems.push(...p.problems);
      cg.pressure = p.value;
    }
  }
  return cg;
}
