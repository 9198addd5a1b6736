// Which memory.stat items are exported (--cgroup.stat-items). Items are named as the `item` label
// gives them: the v2 key (Documentation/admin-guide/cgroup-v2.rst, "memory.stat"); on v1 the
// hierarchical total_* key is renamed to its v2 counterpart first (cgroupfs/memory.ts V1_STAT_ITEMS), so
// one list selects the same items on both. One selector serves every memory.stat metric (the byte items,
// the event counters beside them), so a user names items once. Plain data here (config is the lowest
// layer); test/unit/config/statItems.test.ts checks that every item the parsers produce is known.

/**
 * The event counters exported by default (memlens_cgroup_memory_stat_events_total): faults, the
 * thrashing signal (refaults, activations, restores; the single names before 5.9), reclaim work
 * (pgscan/pgsteal) and v1's pages charged/uncharged. At most 10 series per cgroup on any kernel
 * (v2 6.x: 10; v1: 6): only the names the kernel prints give series.
 */
export const DEFAULT_STAT_EVENT_ITEMS: readonly string[] = [
  'pgfault', 'pgmajfault', 'pgpgin', 'pgpgout',
  'workingset_refault', 'workingset_activate', 'workingset_restore',
  'workingset_refault_anon', 'workingset_refault_file', 'workingset_activate_anon', 'workingset_activate_file',
  'workingset_restore_anon', 'workingset_restore_file',
  'pgscan', 'pgsteal',
];

/**
 * The default: the byte items the bundled dashboards and alerts read, enough to split usage into
 * anon / page cache / shared / kernel (kernel on v1 is memory.kmem.usage_in_bytes; slab and sock
 * give no series there), and the event counters above.
 */
export const DEFAULT_STAT_ITEMS: readonly string[] = [
  'anon', 'file', 'shmem', 'file_mapped', 'kernel', 'inactive_file', 'active_file', 'slab', 'sock', ...DEFAULT_STAT_EVENT_ITEMS,
];

/**
 * memory.stat event counts (v2 keys; v1's hierarchical total_pgfault etc. renamed to them; v1 alone
 * has pgpgin/pgpgout). Kernel versions (v2): pgfault/pgmajfault 4.5; pgscan, pgsteal, pgrefill,
 * pg(de)activate, pglazyfree(d) 4.13; workingset_refault/_activate/_nodereclaim 4.13, _restore
 * 4.20, split into _anon/_file in 5.9; pgscan/pgsteal_kswapd/_direct 6.0. A key listed nowhere
 * is neither bytes nor events: the parsers leave it out rather than guess.
 */
export const STAT_EVENT_ITEMS: ReadonlySet<string> = new Set([
  'pgfault', 'pgmajfault', 'pgrefill', 'pgscan', 'pgsteal', 'pgactivate', 'pgdeactivate', 'pglazyfree', 'pglazyfreed',
  'workingset_refault_anon', 'workingset_refault_file', 'workingset_activate_anon', 'workingset_activate_file',
  'workingset_restore_anon', 'workingset_restore_file', 'workingset_nodereclaim', 'thp_fault_alloc', 'thp_collapse_alloc',
  'zswpin', 'zswpout', 'pgpgin', 'pgpgout',
  'workingset_refault', 'workingset_activate', 'workingset_restore',
  'pgscan_kswapd', 'pgscan_direct', 'pgscan_khugepaged', 'pgscan_proactive',
  'pgsteal_kswapd', 'pgsteal_direct', 'pgsteal_khugepaged', 'pgsteal_proactive',
  'pswpin', 'pswpout', 'zswpwb', 'swpin_zero', 'swpout_zero', 'thp_swpout', 'thp_swpout_fallback',
  'pgdemote_kswapd', 'pgdemote_direct', 'pgdemote_khugepaged', 'pgdemote_proactive', 'pgpromote_success',
  'numa_pages_migrated', 'numa_pte_updates', 'numa_hint_faults',
]);

/** memory.stat byte items (v2 names, cgroup-v2.rst; `swap` is v1's total_swap, which v2 has as memory.swap.current). */
export const STAT_BYTE_ITEMS: ReadonlySet<string> = new Set([
  'anon', 'file', 'kernel', 'kernel_stack', 'pagetables', 'sec_pagetables', 'percpu', 'sock', 'vmalloc', 'shmem',
  'zswap', 'zswapped', 'file_mapped', 'file_dirty', 'file_writeback', 'swapcached', 'anon_thp', 'file_thp', 'shmem_thp',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'slab_reclaimable', 'slab_unreclaimable', 'slab',
  'swap',
]);

/** Every item name the flag accepts: a name outside it is a typo, refused at startup. */
export const KNOWN_STAT_ITEMS: ReadonlySet<string> = new Set([...STAT_BYTE_ITEMS, ...STAT_EVENT_ITEMS]);

export type StatItemSelector = (item: string) => boolean;

/** `['all']` selects every item; otherwise exactly the listed ones. */
export function statItemSelector(items: readonly string[]): StatItemSelector {
  if (items.includes('all')) return () => true;
  const set = new Set(items);
  return (item) => set.has(item);
}

/** A problem with the list, or undefined when every name is known (or the list is `all`). */
export function checkStatItems(items: readonly string[]): string | undefined {
  if (items.length === 0) return 'give at least one item, or all';
  if (items.includes('all')) return items.length === 1 ? undefined : '`all` stands alone';
  const unknown = items.filter((i) => !KNOWN_STAT_ITEMS.has(i));
  if (unknown.length > 0) return `unknown memory.stat item ${unknown.map((u) => JSON.stringify(u)).join(', ')} (known: ${[...KNOWN_STAT_ITEMS].sort().join(', ')})`;
  return undefined;
}
