// /proc/PID/mountinfo (Documentation/filesystems/proc.rst 3.5):
// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
// Paths escape space, tab, newline and backslash as octal (\040).
import { ParseError } from '../errors.js';
import type { Parsed } from './common.js';

export interface Mount {
  mountId: number;
  parentId: number;
  /** The directory of the filesystem that is mounted here (for cgroupfs: the cgroup namespace root). */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string[];
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string, path: string): Parsed<Mount[]> {
  const value: Mount[] = [];
  const problems: ParseError[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0 || f.length < sep + 4) {
      problems.push(new ParseError(`not a mountinfo line: ${JSON.stringify(line.slice(0, 80))}`, path, i + 1));
      return;
    }
    value.push({
      mountId: Number(f[0]),
      parentId: Number(f[1]),
      root: unescape(f[3]!),
      mountPoint: unescape(f[4]!),
      fsType: f[sep + 1]!,
      source: unescape(f[sep + 2]!),
      superOptions: f[sep + 3]!.split(','),
    });
  });
  return { value, problems };
}
