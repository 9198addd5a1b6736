// /proc/meminfo (Documentation/filesystems/proc.rst "meminfo"). MemAvailable: 3.14+.
import { parseKbFields, type Parsed } from './common.js';

export interface Meminfo {
  totalBytes: number | undefined;
  availableBytes: number | undefined;
  swapTotalBytes: number | undefined;
  swapFreeBytes: number | undefined;
}

export function parseMeminfo(text: string, path: string): Parsed<Meminfo> {
  const { value: f, problems } = parseKbFields(text, path);
  return {
    value: {
      totalBytes: f.get('MemTotal'),
      availableBytes: f.get('MemAvailable'),
      swapTotalBytes: f.get('SwapTotal'),
      swapFreeBytes: f.get('SwapFree'),
    },
    problems,
  };
}
