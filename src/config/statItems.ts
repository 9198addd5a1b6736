// Which memory.stat items are exported (--cgroup.stat-items). Items are named as the `item` label
// gives them: the v2 key (Documentation/admin-guide/cgroup-v2.rst, "memory.stat"); on v1 the
// hierarchical total_* key is renamed to its v2 counterpart first (cgroupfs/memory.ts V1_STAT_ITEMS), so
// one list selects the same items on both. One selector serves every memory.stat metric (the byte items,
// the event counters beside them), so a user names items once. Plain data here (config is the lowest
// layer); test/unit/config/statItems.test.ts checks that every item the parsers produce is known.

/**
 * The default: the items the bundled dashboards and alerts read, enough to split usage into anon /
 * page cache / shared / kernel. On v1, memory.stat has no kernel, slab or sock line: those give no
 * series there (kernel memory is memory.kmem.usage_in_bytes on v1).
 */
export const DEFAULT_STAT_ITEMS: readonly string[] = ['anon', 'file', 'shmem', 'file_mapped', 'kernel', 'inactive_file', 'active_file', 'slab', 'sock'];

/** memory.stat event counts (v2 keys; v1 pgfault/pgmajfault have the same names). */
export const STAT_EVENT_ITEMS: ReadonlySet<string> = new Set([
  'pgfault', 'pgmajfault', 'pgrefill', 'pgscan', 'pgsteal', 'pgactivate', 'pgdeactivate', 'pglazyfree', 'pglazyfreed',
  'workingset_refault_anon', 'workingset_refault_file', 'workingset_activate_anon', 'workingset_activate_file',
  'workingset_restore_anon', 'workingset_restore_file', 'workingset_nodereclaim', 'thp_fault_alloc', 'thp_collapse_alloc',
  'zswpin', 'zswpout', 'pgpgin', 'pgpgout',
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
