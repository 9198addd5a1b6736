// /proc/PID/status (Documentation/filesystems/proc.rst, "Contents of the status fields").
// RssAnon/RssFile/RssShmem: 4.5+. VmSwap: 2.6.34+. Kernel threads have no Vm* lines.
// proc.rst: RSS values here are kept per-thread-batched and "may not be very precise".
import { parseKbFields, textField, type Parsed } from './common.js';

export interface ProcStatus {
  name: string | undefined;
  residentBytes: number | undefined;
  residentAnonBytes: number | undefined;
  residentFileBytes: number | undefined;
  residentShmemBytes: number | undefined;
  residentPeakBytes: number | undefined;
  virtualBytes: number | undefined;
  swapBytes: number | undefined;
  pageTablesBytes: number | undefined;
}

const WANTED = new Set(['VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'VmHWM', 'VmSize', 'VmSwap', 'VmPTE']);

export function parseStatus(text: string, path: string): Parsed<ProcStatus> {
  const { value: f, problems } = parseKbFields(text, path, WANTED);
  return {
    value: {
      // comm is at most 15 bytes; the kernel escapes \n and \\ in it.
      name: textField(text, 'Name'),
      residentBytes: f.get('VmRSS'),
      residentAnonBytes: f.get('RssAnon'),
      residentFileBytes: f.get('RssFile'),
      residentShmemBytes: f.get('RssShmem'),
      residentPeakBytes: f.get('VmHWM'),
      virtualBytes: f.get('VmSize'),
      swapBytes: f.get('VmSwap'),
      pageTablesBytes: f.get('VmPTE'),
    },
    problems,
  };
}
