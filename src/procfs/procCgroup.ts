// /proc/PID/cgroup (man 7 cgroups): `hierarchy-ID:controller-list:cgroup-path`; v2 is `0::/path`.
import { ParseError } from '../errors.js';
import type { Parsed } from './common.js';

export interface CgroupMembership {
  hierarchyId: number;
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string, path: string): Parsed<CgroupMembership[]> {
  const value: CgroupMembership[] = [];
  const problems: ParseError[] = [];
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (b < 0 || !/^\d+$/.test(line.slice(0, a))) {
      problems.push(new ParseError(`not a cgroup line: ${JSON.stringify(line.slice(0, 80))}`, path, i + 1));
      return;
    }
    const list = line.slice(a + 1, b);
    value.push({ hierarchyId: Number(line.slice(0, a)), controllers: list === '' ? [] : list.split(','), path: line.slice(b + 1) });
  });
  return { value, problems };
}

/** The memory cgroup path of a process: the v1 `memory` line, else the v2 `0::` line. */
export function memoryCgroupPath(entries: readonly CgroupMembership[], mode: 'v1' | 'v2'): string | undefined {
  if (mode === 'v1') return entries.find((e) => e.controllers.includes('memory'))?.path;
  return entries.find((e) => e.hierarchyId === 0)?.path;
}
