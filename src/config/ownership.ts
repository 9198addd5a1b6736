// Who may have written a file or directory that memlens (root) trusts: a config file holding
// command rules, the snapshot/state directory. Anyone else who can write it can make root run
// commands, or steer root's writes through symlinks (see README "Security").
import type { Stats } from 'node:fs';

/** Why `st` is not safe to trust; undefined when it is owned by us (or root) and not group/other-writable. */
export function ownershipProblem(st: Stats, what: string): string | undefined {
  const uid = process.geteuid?.() ?? 0;
  if (st.uid !== uid && st.uid !== 0) return `${what} is owned by uid ${st.uid}, not by memlens's user (uid ${uid}) or root`;
  if ((st.mode & 0o022) !== 0) return `${what} is writable by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return undefined;
}
