// /proc/PID/stat (proc(5), "/proc/pid/stat"; Documentation/filesystems/proc.rst table 1-4): one line,
// `pid (comm) state ppid ... minflt cminflt majflt cmajflt ... starttime ...`. comm is the raw task
// name, up to 15 bytes, and may hold spaces and parentheses ("(sd-pam)", "a) b"): it runs from the
// first '(' to the LAST ')' of the line, since nothing after it can contain ')'.
// For a process (not a thread: /proc/PID/stat, not /proc/PID/task/TID/stat) minflt and majflt are
// the whole thread group's, exited threads included (fs/proc/array.c do_task_stat, whole=1), so they
// only grow while the process lives. Fields: minflt 10, majflt 12, starttime 22 (clock ticks after
// boot, unchanged for the life of the process: with the pid it names one process across pid reuse).
import { ParseError } from '../errors.js';
import type { Parsed } from './common.js';

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  /** Faults served without reading from disk (page cache hits, zero pages, copy-on-write). */
  minorFaults: number;
  /** Faults that had to read the page from disk (or swap): thrashing or cold file pages. */
  majorFaults: number;
  startTimeTicks: number;
}

/** Fields after the comm that memlens needs, counted from field 3 (state) = 0. */
const MINFLT = 10 - 3;
const MAJFLT = 12 - 3;
const STARTTIME = 22 - 3;

/** The numbers of ProcStat that the process collector needs, filled by scanStat into a reused object. */
export interface StatFaults {
  pid: number;
  minorFaults: number;
  majorFaults: number;
  startTimeTicks: number;
}

export function parseStat(text: string, path: string): Parsed<ProcStat | undefined> {
  const b = Buffer.from(text, 'utf8');
  const problems: ParseError[] = [];
  const f: StatFaults = { pid: 0, minorFaults: 0, majorFaults: 0, startTimeTicks: 0 };
  if (!scanStat(b, b.length, path, f, problems)) return { value: undefined, problems };
  const open = b.indexOf(' (');
  const close = b.lastIndexOf(')');
  let stateEnd = close + 2;
  while (stateEnd < b.length && b[stateEnd] !== SPACE && b[stateEnd] !== NL) stateEnd++;
  return {
    value: { ...f, comm: b.toString('utf8', open + 2, close), state: b.toString('utf8', close + 2, stateEnd) },
    problems,
  };
}

const SPACE = 32;
const NL = 10;
const OPEN = 40; // (
const CLOSE = 41; // )

/**
 * stat is read for every process on every collection: one pass over the bytes as read (b[0, len):
 * HostFs.bytes after tryReadInto), from the
 * last ')' on, digits parsed in place, no string. Fills `out` and returns true; a line too short or
 * with a non-number where a number must be returns false with a problem (out is then undefined
 * in part).
 */
export function scanStat(b: Buffer, len: number, path: string, out: StatFaults, problems: ParseError[]): boolean {
  const end = len;
  const bad = (why: string): false => {
    problems.push(new ParseError(`${why}: ${JSON.stringify(b.toString('utf8', 0, Math.min(end, 120)).slice(0, 60))}`, path, 1));
    return false;
  };
  let open = -1;
  for (let i = 0; i + 1 < end; i++) {
    if (b[i] === SPACE && b[i + 1] === OPEN) {
      open = i;
      break;
    }
  }
  let close = end - 1;
  while (close >= 0 && b[close] !== CLOSE) close--;
  if (open <= 0 || close < open + 1 || b[close + 1] !== SPACE) return bad('not "pid (comm) state ..."');
  let pid = 0;
  for (let i = 0; i < open; i++) {
    const c = b[i]!;
    if (c < 48 || c > 57) return bad('pid is not a number');
    pid = pid * 10 + (c - 48);
  }
  out.pid = pid;
  let field = 0;
  let i = close + 2;
  while (field <= STARTTIME && i < end) {
    const start = i;
    while (i < end && b[i] !== SPACE && b[i] !== NL) i++;
    if (i === start) return bad(`empty field ${field + 3}`);
    if (field === MINFLT || field === MAJFLT || field === STARTTIME) {
      let n = 0;
      for (let j = start; j < i; j++) {
        const c = b[j]!;
        if (c < 48 || c > 57) return bad(`field ${field + 3} is not a number`);
        n = n * 10 + (c - 48);
      }
      if (field === MINFLT) out.minorFaults = n;
      else if (field === MAJFLT) out.majorFaults = n;
      else out.startTimeTicks = n;
    }
    field++;
    i++; // the space
  }
  if (field <= STARTTIME) return bad(`only ${field + 2} fields`);
  return true;
}
