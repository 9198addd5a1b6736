// Reading one cgroup's memory files into one model, v1 or v2 (the cAdvisor way: read,
// normalise, expose). Parsers are pure; readMemoryCgroup does the IO through HostFs.
//
// v1: Documentation/admin-guide/cgroup-v1/memory.rst. v2: Documentation/admin-guide/cgroup-v2.rst.
// memory.peak: v2 since 5.19. memory.events oom_group_kill: 5.17. A file the kernel lacks gives undefined.
// memory.stat event counters (v2): pgfault/pgmajfault since 4.5 (commit 587d9f726aae); pgscan,
// pgsteal, pgrefill, pg(de)activate, pglazyfree(d) since 4.13 (2262185c5b28); workingset_refault,
// _activate, _nodereclaim since 4.13 (4b4cea91691d), _restore since 4.20 (1899ad18c607), split into
// _anon/_file in 5.9 (170b04b7ae49); pgscan/pgsteal_kswapd/_direct since 6.0 (673520f8da64).
// v1 memory.stat: pgpgin/pgpgout/pgfault/pgmajfault and their hierarchical total_* (memory.rst 5.2);
// recent kernels also print (total_)workingset_refault_anon/_file there (seen on 6.18).
import type { DirHandle, HostFs } from '../host/hostFs.js';
import { describe, type ParseError } from '../errors.js';
import type { Problem } from '../model/types.js';
import { parseFlatKeyed, parseSingleInt } from '../procfs/common.js';
import { parsePressure, type Pressure } from '../procfs/pressure.js';
import { KeyedValues, KeyTable, scanInt, scanKeyed, scanLimit } from './scan.js';
import { parseLimit, UNLIMITED, type Limit } from './limit.js';
import type { CgroupMode } from './discover.js';
import { STAT_EVENT_ITEMS } from '../config/statItems.js';

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
  /** memory.stat event counters (faults, refaults, reclaim) under their v2 names; hierarchical on v1 (total_*). */
  statEvents: Map<string, number>;
  /** v2 memory.high (the throttling limit). */
  high: Limit | undefined;
  /** v2 memory.low (best-effort protection); 0 when none. */
  low: Limit | undefined;
  /** v2 memory.min (hard protection); 0 when none. */
  min: Limit | undefined;
  /** v1 memory.soft_limit_in_bytes. */
  softLimit: Limit | undefined;
  /** Swap alone: v2 memory.swap.max; v1 memory.memsw.limit_in_bytes - memory.limit_in_bytes (see swapLimitV1). */
  swapLimit: Limit | undefined;
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

export function countLines(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.trim() !== '') n++;
  return n;
}

/** v1 memory.stat: byte items renamed, hierarchical (total_*) event counters, plus the hierarchical limit. */
export function parseV1Stat(text: string, path: string): {
  stat: Map<string, number>; events: Map<string, number>; hierarchicalLimit: Limit | undefined; problems: ParseError[];
} {
  const { value, problems } = parseFlatKeyed(text, path);
  const stat = new Map<string, number>();
  const events = new Map<string, number>();
  for (const [k, v] of value) {
    const item = V1_STAT_ITEMS.get(k);
    if (item !== undefined) stat.set(item, v);
    // total_pgfault -> pgfault: the hierarchical counter, as the byte items are (the local pgfault is not).
    else if (k.startsWith('total_') && STAT_EVENT_ITEMS.has(k.slice(6))) events.set(k.slice(6), v);
  }
  // The value is printed near 2^63 when unlimited: re-read it exactly from the text.
  const m = /^hierarchical_memory_limit (\d+)$/m.exec(text);
  const hierarchicalLimit = m?.[1] === undefined ? undefined : parseLimit(m[1], path).value;
  return { stat, events, hierarchicalLimit, problems };
}

export function parseV2Stat(text: string, path: string): { stat: Map<string, number>; events: Map<string, number>; problems: ParseError[] } {
  const { value, problems } = parseFlatKeyed(text, path);
  const stat = new Map<string, number>();
  const events = new Map<string, number>();
  for (const [k, v] of value) {
    if (V2_STAT_BYTES.has(k)) stat.set(k, v);
    else if (STAT_EVENT_ITEMS.has(k)) events.set(k, v);
  }
  if (!stat.has('slab') && stat.has('slab_reclaimable') && stat.has('slab_unreclaimable')) {
    stat.set('slab', stat.get('slab_reclaimable')! + stat.get('slab_unreclaimable')!);
  }
  return { stat, events, problems };
}

/**
 * v1 has no swap-only limit: memory.memsw.limit_in_bytes limits memory + swap together and the
 * kernel keeps it >= memory.limit_in_bytes (memory.rst 2.4, "memsw means memory+swap"). memlens
 * exports swap alone, like memlens_cgroup_memory_swap_usage_bytes (memsw.usage - usage) and v2's
 * memory.swap.max: memsw limit - memory limit, the swap the cgroup may hold when its memory is at
 * the limit (Docker's --memory-swap minus --memory). Unlimited when either is.
 */
export function swapLimitV1(memsw: Limit | undefined, limit: Limit | undefined): Limit | undefined {
  if (memsw === undefined || limit === undefined) return undefined;
  if (memsw.unlimited || limit.unlimited) return UNLIMITED;
  return { unlimited: false, bytes: Math.max(0, memsw.bytes - limit.bytes) };
}

/**
 * The files readMemoryCgroup reads in each cgroup, in the order it reads them. `kmemAccounted`: as for
 * readMemoryCgroup. `swapAccounted`: v1 has memory.memsw.* (swap accounting on), so the memsw limit is read too.
 * The cgroup-scale bench (bench/cgscale.sh) has its bare C reader read exactly these.
 */
export function memoryFiles(mode: CgroupMode, kmemAccounted: boolean, swapAccounted: boolean): string[] {
  if (mode === 'v1') {
    return [
      'cgroup.procs', 'memory.usage_in_bytes', 'memory.limit_in_bytes', 'memory.stat',
      ...(kmemAccounted ? ['memory.kmem.usage_in_bytes'] : []),
      'memory.max_usage_in_bytes', 'memory.soft_limit_in_bytes', 'memory.memsw.usage_in_bytes',
      ...(swapAccounted ? ['memory.memsw.limit_in_bytes'] : []),
      'memory.failcnt', 'memory.oom_control',
    ];
  }
  return [
    'cgroup.procs', 'memory.current', 'memory.max', 'memory.stat', 'memory.high', 'memory.low', 'memory.min', 'memory.peak',
    'memory.swap.current', 'memory.swap.max', 'memory.events', 'memory.events.local', 'memory.pressure',
  ];
}

const STAT = 0;
const EVENTS = 1;
const LIMIT = 2;

/** v1 memory.stat keys the collector uses: total_* byte items and event counters (under v2 names), the limit. */
const V1_STAT_TABLE = new KeyTable([
  ...[...V1_STAT_ITEMS].map(([k, name]) => [k, { out: STAT, name }] as const),
  ...[...STAT_EVENT_ITEMS].map((name) => [`total_${name}`, { out: EVENTS, name }] as const),
  ['hierarchical_memory_limit', { out: LIMIT, name: 'hierarchical_memory_limit', limit: true }],
]);
const V2_STAT_TABLE = new KeyTable([
  ...[...V2_STAT_BYTES].map((name) => [name, { out: STAT, name }] as const),
  ...[...STAT_EVENT_ITEMS].map((name) => [name, { out: EVENTS, name }] as const),
]);
const OOM_CONTROL_TABLE = new KeyTable([
  ['under_oom', { out: 0, name: 'under_oom' }],
  ['oom_kill', { out: 0, name: 'oom_kill' }],
]);

/**
 * memory.stat from its bytes through the fast path (scan.ts): byte items into `stat`, event counters into
 * `events` (v2 names, file order), v1's hierarchical_memory_limit into `limit` (Infinity: unlimited). False when
 * the text is not exactly the kernel's form: then parseV1Stat / parseV2Stat decide (what they give is what this
 * gives whenever it answers true: test/unit/cgroupfs/scan.test.ts).
 */
export function scanMemoryStat(mode: CgroupMode, b: Uint8Array, len: number, stat: KeyedValues, events: KeyedValues, limit: KeyedValues): boolean {
  stat.clear();
  events.clear();
  limit.clear();
  return scanKeyed(b, len, mode === 'v1' ? V1_STAT_TABLE : V2_STAT_TABLE, [stat, events, limit]);
}

/** Non-blank lines of cgroup.procs in b[0..len); -1 when a byte is not ASCII (then countLines on the text decides). */
export function countLinesBytes(b: Uint8Array, len: number): number {
  let n = 0;
  let blank = true;
  for (let i = 0; i < len; i++) {
    const c = b[i]!;
    if (c === 10) {
      if (!blank) n++;
      blank = true;
    } else if (c >= 0x80) return -1;
    else if (blank && c !== 32 && (c < 9 || c > 13)) blank = false;
  }
  return blank ? n : n + 1;
}

/** MemoryReader's handle between reads: none (a read by it would go by path). */
const NO_DIR: DirHandle = { path: '', fd: -1 };

/**
 * Reads cgroups' memory files, one cgroup at a time, into fields that are reused from one cgroup to the next:
 * the collector reads a thousand cgroups per scrape, and numbers parsed straight from the read buffer
 * (scan.ts), memory.stat items kept in reused KeyedValues instead of Maps, leave next to nothing for the
 * garbage collector. Anything the fast paths do not take goes through the string parsers, so the values and
 * problems are those of readMemoryCgroup's model in every case (it is built on this).
 * The fields hold the last cgroup read, until the next read().
 */
export class MemoryReader {
  usageBytes: number | undefined;
  limit: Limit | undefined;
  hierarchicalLimit: Limit | undefined;
  /** memory.stat byte items under their v2 names, in the file's order ('kernel' from kmem and a summed 'slab' last). */
  readonly stat = new KeyedValues();
  inactiveFileBytes: number | undefined;
  peakBytes: number | undefined;
  swapBytes: number | undefined;
  /** v1: max (failcnt), oom_kill; v2: memory.events as printed. */
  readonly events = new KeyedValues();
  oomKills: number | undefined;
  oomKillsLocal: number | undefined;
  underOom: number | undefined;
  pressure: Pressure | undefined;
  processes: number | undefined;
  readonly statEvents = new KeyedValues();
  high: Limit | undefined;
  low: Limit | undefined;
  min: Limit | undefined;
  softLimit: Limit | undefined;
  swapLimit: Limit | undefined;

  private readonly limitOut = new KeyedValues();
  private readonly oomOut = new KeyedValues();
  private dir = '';
  /** The cgroup's directory while read() runs: each file is opened by its name in it (HostFs.readAtInto). */
  private handle: DirHandle = NO_DIR;
  private out: Problem[] = [];
  /** The name of the file last read. */
  private file = '';

  /**
   * `kmemAccounted`: the caller has checked that v1 accounts kernel memory (procfs/cmdline.ts): booted with
   * cgroup.memory=nokmem, memory.kmem.usage_in_bytes reads 0 whatever the kernel uses. Unchecked (the default),
   * the file is not read: the `kernel` item is absent rather than possibly wrong.
   */
  constructor(
    private readonly host: HostFs,
    readonly mode: CgroupMode,
    private readonly kmemAccounted = false,
  ) {}

  /** Reads one cgroup directory (a path under the sysfs root). Files that are absent give undefined; problems go to `out`. */
  read(dir: string, out: Problem[]): this {
    this.dir = dir;
    this.out = out;
    this.usageBytes = this.limit = this.hierarchicalLimit = this.inactiveFileBytes = this.peakBytes = this.swapBytes = undefined;
    this.oomKills = this.oomKillsLocal = this.underOom = this.pressure = this.processes = undefined;
    this.high = this.low = this.min = this.softLimit = this.swapLimit = undefined;
    this.stat.clear();
    this.events.clear();
    this.statEvents.clear();
    this.handle = this.host.openDir(dir);
    try {
      this.processes = this.procs();
      if (this.mode === 'v1') this.readV1();
      else this.readV2();
    } finally {
      this.host.closeDir(this.handle);
      this.handle = NO_DIR;
    }
    return this;
  }

  /** The path of the file last read (for problems). */
  private get path(): string {
    return `${this.dir}/${this.file}`;
  }

  /** The last cgroup read as the model (fresh Maps): for callers that keep it. */
  toModel(): CgroupMemory {
    return {
      usageBytes: this.usageBytes, limit: this.limit, hierarchicalLimit: this.hierarchicalLimit, stat: this.stat.toMap(),
      inactiveFileBytes: this.inactiveFileBytes, peakBytes: this.peakBytes, swapBytes: this.swapBytes, events: this.events.toMap(),
      oomKills: this.oomKills, oomKillsLocal: this.oomKillsLocal, underOom: this.underOom, pressure: this.pressure,
      processes: this.processes, statEvents: this.statEvents.toMap(), high: this.high, low: this.low, min: this.min,
      softLimit: this.softLimit, swapLimit: this.swapLimit,
    };
  }

  private readV1(): void {
    this.usageBytes = this.int('memory.usage_in_bytes');
    this.limit = this.limitFile('memory.limit_in_bytes');
    if (this.memoryStat()) {
      this.inactiveFileBytes = this.stat.get('inactive_file');
    }
    // Kernel memory charged to the cgroup and its descendants (the kmem page counter is
    // hierarchical), v2's memory.stat `kernel` (5.18+) under the same item: since 5.x both count
    // the pages charged through memcg_account_kmem. The file is gone with CONFIG_MEMCG_V1 off.
    const kmem = this.kmemAccounted ? this.int('memory.kmem.usage_in_bytes') : undefined;
    if (kmem !== undefined) this.stat.set('kernel', kmem);
    this.peakBytes = this.int('memory.max_usage_in_bytes');
    this.softLimit = this.limitFile('memory.soft_limit_in_bytes');
    // memsw files exist only with swap accounting (swapaccount=1 / CONFIG_MEMCG_SWAP).
    const memsw = this.int('memory.memsw.usage_in_bytes');
    if (memsw !== undefined && this.usageBytes !== undefined) this.swapBytes = Math.max(0, memsw - this.usageBytes);
    // No memsw.usage file, no swap accounting: its limit file is not there either.
    if (memsw !== undefined) this.swapLimit = swapLimitV1(this.limitFile('memory.memsw.limit_in_bytes'), this.limit);
    const failcnt = this.int('memory.failcnt');
    if (failcnt !== undefined) this.events.set('max', failcnt);
    if (this.keyed('memory.oom_control', OOM_CONTROL_TABLE, this.oomOut)) {
      this.oomKills = this.oomOut.get('oom_kill');
      this.underOom = this.oomOut.get('under_oom');
      this.oomKillsLocal = this.oomKills;
      if (this.oomKills !== undefined) this.events.set('oom_kill', this.oomKills);
    }
  }

  private readV2(): void {
    this.usageBytes = this.int('memory.current');
    this.limit = this.limitFile('memory.max');
    if (this.memoryStat()) {
      const { stat } = this;
      if (!stat.has('slab') && stat.has('slab_reclaimable') && stat.has('slab_unreclaimable')) {
        stat.set('slab', stat.get('slab_reclaimable')! + stat.get('slab_unreclaimable')!);
      }
      this.inactiveFileBytes = stat.get('inactive_file');
    }
    this.high = this.limitFile('memory.high');
    this.low = this.limitFile('memory.low');
    this.min = this.limitFile('memory.min');
    this.peakBytes = this.int('memory.peak');
    this.swapBytes = this.int('memory.swap.current');
    this.swapLimit = this.limitFile('memory.swap.max');
    const events = this.text('memory.events');
    if (events !== undefined) {
      const p = parseFlatKeyed(events, this.path);
      this.problems(p.problems);
      this.events.assign(p.value);
    }
    this.oomKills = this.events.get('oom_kill');
    const local = this.text('memory.events.local');
    if (local !== undefined) {
      const p = parseFlatKeyed(local, this.path);
      this.problems(p.problems);
      this.oomKillsLocal = p.value.get('oom_kill');
    }
    const psi = this.text('memory.pressure');
    if (psi !== undefined) {
      const p = parsePressure(psi, this.path);
      this.problems(p.problems);
      this.pressure = p.value;
    }
  }

  private problems(errs: readonly ParseError[]): void {
    for (const e of errs) this.out.push(e.path === undefined ? { reason: 'parse', message: e.message } : { reason: 'parse', message: e.message, path: e.path });
  }

  /** Reads a file into the HostFs buffer: its length, or -1 when absent or unreadable (a problem then). */
  private load(file: string): number {
    this.file = file;
    try {
      // Every memory file is a single-show seq_file (HostFs.readInto); cgroup.procs is not.
      return this.host.tryReadAtInto(this.handle, file, file !== 'cgroup.procs');
    } catch (err) {
      // EACCES, EOPNOTSUPP (memory.pressure with psi=0), ...: this file is lost, not the cgroup.
      this.out.push({ reason: 'read', message: describe(err), path: this.path });
      return -1;
    }
  }

  private text(file: string): string | undefined {
    const len = this.load(file);
    return len < 0 ? undefined : this.host.bytes.toString('utf8', 0, len);
  }

  private procs(): number | undefined {
    const len = this.load('cgroup.procs');
    if (len < 0) return undefined;
    const n = countLinesBytes(this.host.bytes, len);
    return n >= 0 ? n : countLines(this.host.bytes.toString('utf8', 0, len));
  }

  private int(file: string): number | undefined {
    const len = this.load(file);
    if (len < 0) return undefined;
    const v = scanInt(this.host.bytes, len);
    if (!Number.isNaN(v)) return v;
    const p = parseSingleInt(this.host.bytes.toString('utf8', 0, len), this.path);
    this.problems(p.problems);
    return p.value;
  }

  private limitFile(file: string): Limit | undefined {
    const len = this.load(file);
    if (len < 0) return undefined;
    const v = scanLimit(this.host.bytes, len);
    if (v !== undefined) return v;
    const p = parseLimit(this.host.bytes.toString('utf8', 0, len), this.path);
    this.problems(p.problems);
    return p.value;
  }

  /** A flat keyed file through the scanner into `into`; false when absent or unreadable. */
  private keyed(file: string, table: KeyTable, into: KeyedValues): boolean {
    into.clear();
    const len = this.load(file);
    if (len < 0) return false;
    if (scanKeyed(this.host.bytes, len, table, [into])) return true;
    const p = parseFlatKeyed(this.host.bytes.toString('utf8', 0, len), this.path);
    this.problems(p.problems);
    into.assign(p.value);
    return true;
  }

  /** memory.stat into stat / statEvents (and v1's hierarchical limit); false when absent or unreadable. */
  private memoryStat(): boolean {
    const len = this.load('memory.stat');
    if (len < 0) return false;
    if (scanMemoryStat(this.mode, this.host.bytes, len, this.stat, this.statEvents, this.limitOut)) {
      const hl = this.limitOut.get('hierarchical_memory_limit');
      if (hl !== undefined) this.hierarchicalLimit = hl === Number.POSITIVE_INFINITY ? UNLIMITED : { unlimited: false, bytes: hl };
      return true;
    }
    const text = this.host.bytes.toString('utf8', 0, len);
    const s = this.mode === 'v1' ? parseV1Stat(text, this.path) : { ...parseV2Stat(text, this.path), hierarchicalLimit: undefined };
    this.problems(s.problems);
    this.stat.assign(s.stat);
    this.statEvents.assign(s.events);
    this.hierarchicalLimit = s.hierarchicalLimit;
    return true;
  }
}

/**
 * Reads one cgroup directory (a path under the sysfs root) into a model of its own. Files that are absent give
 * undefined. `kmemAccounted`: see MemoryReader.
 */
export function readMemoryCgroup(host: HostFs, dir: string, mode: CgroupMode, out: Problem[], kmemAccounted = false): CgroupMemory {
  return new MemoryReader(host, mode, kmemAccounted).read(dir, out).toModel();
}
