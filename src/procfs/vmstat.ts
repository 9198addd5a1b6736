// /proc/vmstat: `name value` lines. oom_kill: 4.13+.
import { parseFlatKeyed, type Parsed } from './common.js';

export interface Vmstat {
  oomKill: number | undefined;
}

export function parseVmstat(text: string, path: string): Parsed<Vmstat> {
  const { value, problems } = parseFlatKeyed(text, path);
  return { value: { oomKill: value.get('oom_kill') }, problems };
}
