// PSI: /proc/pressure/memory and cgroup v2 memory.pressure (Documentation/accounting/psi.rst).
// `some avg10=0.00 avg60=0.00 avg300=0.00 total=85623` (total in microseconds); `full` since 5.x
// for memory from the start; a kernel without CONFIG_PSI has no file at all.
import { ParseError } from '../errors.js';
import type { Parsed } from './common.js';

export interface PressureLine {
  avg10: number;
  avg60: number;
  avg300: number;
  totalSeconds: number;
}

export interface Pressure {
  some: PressureLine | undefined;
  full: PressureLine | undefined;
}

const LINE = /^(some|full) avg10=(\d+(?:\.\d+)?) avg60=(\d+(?:\.\d+)?) avg300=(\d+(?:\.\d+)?) total=(\d+)$/;

export function parsePressure(text: string, path: string): Parsed<Pressure> {
  const value: Pressure = { some: undefined, full: undefined };
  const problems: ParseError[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const m = LINE.exec(line);
    if (m === null) {
      problems.push(new ParseError(`not a PSI line: ${JSON.stringify(line.slice(0, 60))}`, path, i + 1));
      return;
    }
    const entry = { avg10: Number(m[2]), avg60: Number(m[3]), avg300: Number(m[4]), totalSeconds: Number(m[5]) / 1e6 };
    if (m[1] === 'some') value.some = entry;
    else value.full = entry;
  });
  return { value, problems };
}
