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

/**
 * stat is read for every process on every collection: one pass over the text after the comm,
 * digits parsed in place, no split. A line too short or with a non-number where a number must be
 * gives undefined and a problem.
 */
export function parseStat(text: string, path: string): Parsed<ProcStat | undefined> {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  const bad = (why: string): Parsed<undefined> => ({ value: undefined, problems: [new ParseError(`${why}: ${JSON.stringify(text.slice(0, 60))}`, path, 1)] });
  if (open <= 0 || close < open + 1 || text.charCodeAt(close + 1) !== 32) return bad('not "pid (comm) state ..."');
  let pid = 0;
  for (let i = 0; i < open; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return bad('pid is not a number');
    pid = pid * 10 + (c - 48);
  }
  const nums: number[] = [];
  let state = '';
  let field = 0;
  let i = close + 2;
  const end = text.length;
  while (field <= STARTTIME && i < end) {
    const start = i;
    while (i < end && text.charCodeAt(i) !== 32 && text.charCodeAt(i) !== 10) i++;
    if (i === start) return bad(`empty field ${field + 3}`);
    if (field === 0) state = text.slice(start, i);
    else if (field === MINFLT || field === MAJFLT || field === STARTTIME) {
      let n = 0;
      for (let j = start; j < i; j++) {
        const c = text.charCodeAt(j);
        if (c < 48 || c > 57) return bad(`field ${field + 3} is not a number`);
        n = n * 10 + (c - 48);
      }
      nums[field] = n;
    }
    field++;
    i++; // the space
  }
  if (field <= STARTTIME) return bad(`only ${field + 2} fields`);
  return {
    value: { pid, comm: text.slice(open + 2, close), state, minorFaults: nums[MINFLT]!, majorFaults: nums[MAJFLT]!, startTimeTicks: nums[STARTTIME]! },
    problems: [],
  };
}
