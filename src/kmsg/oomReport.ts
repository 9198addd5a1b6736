// State machine that turns kernel OOM reports (one log record per push) into OomKill records.
// Pure: no IO, no timers, no logging; never throws.
//
// Format strings (see test/fixtures/kmsg/*.md for the exact sources):
// - mm/oom_kill.c dump_header():
//     4.x:  "%s invoked oom-killer: gfp_mask=%#x(%pGg), nodemask=" "(null)" ",  order=%d, oom_score_adj=%hd"
//           (4.14: nodemask printed with pr_cont and two spaces before order; 4.19: one format, one space)
//     6.x:  "%s invoked oom-killer: gfp_mask=%#x(%pGg), order=%d, oom_score_adj=%hd"
//     then dump_stack(): "CPU: %d [UID: %u ]PID: %d Comm: %.20s ..." (the invoker's pid).
// - mm/memcontrol.c mem_cgroup_print_oom_info() (<= 4.19):
//     "Task in <path> killed as a result of limit of <path>", "memory: usage %llukB, limit %llukB, failcnt %lu",
//     "memory+swap: ...", "kmem: ...", "Memory cgroup stats for <path>: cache:...KB ..." (one line per memcg in the tree).
//   mem_cgroup_print_oom_meminfo() (5.0+): "memory: usage ...", "swap:" or "memory+swap:"/"kmem:",
//     "Memory cgroup stats for <path>:" then one line per stat.
// - dump_oom_summary() + mem_cgroup_print_oom_context() (5.0+):
//     "oom-kill:constraint=%s,nodemask=%*pbl[,cpuset=<name>,mems_allowed=%*pbl][,oom_memcg=<path>|,global_oom][,task_memcg=<path>],task=%s,pid=%d,uid=%d"
// - oom_kill_process() (<= 5.0): "%s: Kill process %d (%s) score %u or sacrifice child" then
//   "Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB[, shmem-rss:%lukB]"
//   (shmem-rss since 4.5; the killed pid may be a child of the selected one).
// - __oom_kill_process() (5.1+): "%s: Killed process %d (%s) total-vm:..., shmem-rss:%lukB[, UID:%u pgtables:%lukB oom_score_adj:%hd]"
//   (UID/pgtables/oom_score_adj since 5.4; 5.4.0 until the stable fix printed pgtables in bytes labelled kB).
//
// The kernel prints one report under oom_lock, but dump_header() is rate limited (a kill can come
// with no header), records can be lost to ring overflow, and unrelated CPUs print in between.
// Rules, so that a record is correct or absent, never wrong:
// - Every OomKill is made from a "Killed process" line: victim pid/comm and the rss figures always
//   come from that line.
// - An oom-kill summary line joins a kill only when its pid AND comm equal the Killed line's.
// - Header data (invoker, memcg usage, "Task in", stats path) joins a kill only when exactly one
//   report is open, or the open report is tied to the kill by pid; when two reports are open, lines
//   that carry no pid are not attributed to either.
// - A report that has not seen its Killed line within `maxAgeRecords` records or `maxAgeUsec`
//   microseconds is dropped.

import { unescapeKmsg } from './record.js';

export type OomForm = '5.x+' | 'pre-5.0';

export interface OomMemcg {
  readonly usageBytes: number;
  /** 'max' when the kernel printed its "no limit" value (PAGE_COUNTER_MAX, ~2^53 kB) or anything above 2^53 bytes. */
  readonly limitBytes: number | 'max';
  readonly failcnt: number;
}

export interface OomInvoker {
  readonly comm: string;
  readonly pid?: number;
  readonly gfpMask: number;
  /** Symbolic flags printed after the mask, e.g. "GFP_KERNEL" (4.6+); omitted when absent. */
  readonly gfpFlags?: string;
  readonly order: number;
  readonly oomScoreAdj: number;
}

export interface OomKill {
  /** Timestamp and sequence number of the Killed line. */
  readonly usecMonotonic: number | undefined;
  readonly seq: number | undefined;
  readonly victim: { readonly pid: number; readonly comm: string; readonly uid: number | undefined };
  /** Memory cgroup of the victim (task_memcg, or "Task in X" before 5.0). */
  readonly cgroup: string | undefined;
  /** Memory cgroup whose limit was hit (oom_memcg, or "limit of Y"); undefined for a global OOM. */
  readonly oomCgroup: string | undefined;
  readonly constraint: string | undefined;
  /** Kernel's reason prefix: "Memory cgroup out of memory", "Out of memory", ... */
  readonly message: string | undefined;
  readonly totalVmBytes: number | undefined;
  readonly anonRssBytes: number | undefined;
  readonly fileRssBytes: number | undefined;
  readonly shmemRssBytes: number | undefined;
  readonly pageTablesBytes: number | undefined;
  readonly oomScoreAdj: number | undefined;
  readonly memcg?: OomMemcg;
  readonly invoker?: OomInvoker;
  readonly form: OomForm;
}

export interface OomRecordInput {
  readonly seq?: number | undefined;
  readonly usecMonotonic?: number | undefined;
  readonly text: string;
  /**
   * The text as /dev/kmsg printed it, with the kernel's `\xNN` escapes (KmsgRecord.rawText).
   * Matched in preference to `text`: a comm may hold any byte but NUL (prctl PR_SET_NAME), and a
   * newline or a `)` decoded into the text would split or bend the "Killed process P (comm)" line
   * so that no pattern matches and the kill is lost. Escaped, the line is one line again.
   */
  readonly rawText?: string | undefined;
}

/**
 * A comm or cgroup path taken from matched (escaped) text, as a label value: the kernel's
 * escapes decoded (UTF-8 names read as they are), then control characters escaped again as
 * `\xNN` so no raw control byte reaches a label, a log line or a terminal.
 */
export function fieldText(s: string): string {
  return escapeControls(unescapeKmsg(s));
}

export function escapeControls(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export interface OomReportParserOptions {
  /** Drop an open report after this many records without its Killed line. Task tables can be thousands of rows. */
  readonly maxAgeRecords?: number;
  /** Drop an open report after this much monotonic time (a slow serial console stretches a report). */
  readonly maxAgeUsec?: number;
  /** At most this many reports open at once; the oldest is dropped. */
  readonly maxOpenReports?: number;
  /**
   * Drop every open report when `seq` jumps (records were overwritten before we read them).
   * Default true; callers that filter records before pushing them should pass seq undefined or set false.
   */
  readonly resetOnSeqGap?: boolean;
}

interface Summary {
  readonly constraint: string | undefined;
  readonly oomCgroup: string | undefined;
  readonly taskCgroup: string | undefined;
  readonly comm: string;
  readonly pid: number;
  readonly uid: number;
}

interface Pending {
  readonly openedAt: number;
  readonly openedUsec: number | undefined;
  invoker: OomInvoker;
  invokerPidSet: boolean;
  memcg?: OomMemcg;
  /** A memory: line came while this report was not the only one open: never attach memcg. */
  memcgAmbiguous: boolean;
  statsPath?: string;
  taskIn?: { readonly cgroup: string; readonly oomCgroup: string };
  summary?: Summary;
  selected?: { readonly pid: number; readonly comm: string; readonly at: number; readonly message: string };
}

interface Killed {
  readonly message: string | undefined;
  readonly pid: number;
  readonly comm: string;
  readonly uid: number | undefined;
  readonly totalVmBytes: number | undefined;
  readonly anonRssBytes: number | undefined;
  readonly fileRssBytes: number | undefined;
  readonly shmemRssBytes: number | undefined;
  readonly pageTablesBytes: number | undefined;
  readonly oomScoreAdj: number | undefined;
}

const RE_INVOKED =
  /^(.+?) invoked oom-killer: gfp_mask=(0x[0-9a-fA-F]{1,16}|0)(?:\(([^)]*)\))?,(?:.*?,)?\s*order=(-?\d{1,4}),\s*(?:oom_adj=-?\d{1,5},\s*)?oom_score_adj=(-?\d{1,5})\s*$/;
const RE_CPU = /^CPU: \d{1,6} (?:UID: \d{1,10} )?PID: (\d{1,10}) Comm: (.*)$/;
const RE_MEMORY = /^memory: usage (\d{1,20})kB, limit (\d{1,20})kB, failcnt (\d{1,20})\s*$/;
const RE_STATS = /^Memory cgroup stats for (.*?):(?: |$)/;
const RE_TASK_IN = /^Task in (.+) killed as a result of limit of (.+?)\s*$/;
const RE_SUMMARY = /^oom-kill:(.*),task=(.*),pid=\s*(\d{1,10}),uid=\s*(\d{1,10})\s*$/;
const RE_SELECT = /^(.+): Kill process (\d{1,10}) \((.*)\) score (\d{1,20}) or sacrifice child\s*$/;
const RE_KILLED =
  /^(?:(.+?): )?Killed process (\d{1,10}) \((.*)\)(?:, UID (\d{1,10}),)? total-vm:(\d{1,20})kB, anon-rss:(\d{1,20})kB, file-rss:(\d{1,20})kB(?:, shmem-rss:(\d{1,20})kB)?(?:,? UID:(\d{1,10}))?(?: pgtables:(\d{1,20})kB)?(?: oom_score_adj:(-?\d{1,5}))?\s*$/;

/** kB as printed by the kernel -> bytes, exactly; undefined if it cannot be held exactly in a number. */
function kbToBytes(kb: string | undefined): number | undefined {
  if (kb === undefined) return undefined;
  const n = Number(kb);
  if (!Number.isSafeInteger(n)) return undefined;
  const bytes = n * 1024;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function int(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseSummaryHead(head: string): Pick<Summary, 'constraint' | 'oomCgroup' | 'taskCgroup'> {
  // Fields are printed in a fixed order; nodemask/mems_allowed are range lists that may hold
  // commas ("0-1,3"), so split only before the next known key.
  const parts = head.split(/,(?=(?:nodemask|cpuset|mems_allowed|oom_memcg|task_memcg)=|global_oom(?:,|$))/);
  let constraint: string | undefined;
  let oomCgroup: string | undefined;
  let taskCgroup: string | undefined;
  for (const p of parts) {
    if (p.startsWith('constraint=')) constraint = p.slice('constraint='.length);
    else if (p.startsWith('oom_memcg=')) oomCgroup = p.slice('oom_memcg='.length);
    else if (p.startsWith('task_memcg=')) taskCgroup = p.slice('task_memcg='.length);
  }
  return { constraint, oomCgroup, taskCgroup };
}

function parseKilled(m: RegExpExecArray): Killed | undefined {
  const pid = int(m[2]);
  const comm = m[3];
  if (pid === undefined || comm === undefined) return undefined;
  return {
    message: m[1],
    pid,
    comm,
    uid: int(m[9] ?? m[4]),
    totalVmBytes: kbToBytes(m[5]),
    anonRssBytes: kbToBytes(m[6]),
    fileRssBytes: kbToBytes(m[7]),
    shmemRssBytes: kbToBytes(m[8]),
    pageTablesBytes: kbToBytes(m[10]),
    oomScoreAdj: int(m[11]),
  };
}

export class OomReportParser {
  private readonly maxAgeRecords: number;
  private readonly maxAgeUsec: number;
  private readonly maxOpenReports: number;
  private readonly resetOnSeqGap: boolean;
  private lastSeq: number | undefined;
  private open: Pending[] = [];
  /** Summary lines seen while no report was open (header rate limited or lost), by pid. */
  private loose = new Map<number, { summary: Summary; at: number; usec: number | undefined }>();
  private count = 0;
  /** Index of the last record that was part of an OOM report (for "Kill process" -> "Killed process" adjacency). */
  private lastOomLineAt = -1;

  constructor(opts: OomReportParserOptions = {}) {
    this.maxAgeRecords = opts.maxAgeRecords ?? 50_000;
    this.maxAgeUsec = opts.maxAgeUsec ?? 120_000_000;
    this.maxOpenReports = opts.maxOpenReports ?? 8;
    this.resetOnSeqGap = opts.resetOnSeqGap ?? true;
  }

  /** Feed one record; returns the kills completed by it (usually none, at most one). */
  push(rec: OomRecordInput): OomKill[] {
    try {
      return this.step(rec);
    } catch {
      // Defensive only: step() is written not to throw. Losing state is the safe outcome.
      this.reset();
      return [];
    }
  }

  private reset(): void {
    this.lastSeq = undefined;
    this.open = [];
    this.loose.clear();
    this.lastOomLineAt = -1;
  }

  private step(rec: OomRecordInput): OomKill[] {
    const at = this.count++;
    const usec = typeof rec.usecMonotonic === 'number' && Number.isFinite(rec.usecMonotonic) ? rec.usecMonotonic : undefined;
    const seq = typeof rec.seq === 'number' && Number.isFinite(rec.seq) ? rec.seq : undefined;
    if (seq !== undefined) {
      if (this.resetOnSeqGap && this.lastSeq !== undefined && seq !== this.lastSeq + 1) {
        this.open = [];
        this.loose.clear();
      }
      this.lastSeq = seq;
    }
    this.expire(at, usec);
    const src = typeof rec.rawText === 'string' ? rec.rawText : rec.text;
    if (typeof src !== 'string') return [];
    const text = src.replace(/[\r\n]+$/, '');

    let m: RegExpExecArray | null;
    if ((m = RE_KILLED.exec(text)) !== null) {
      const killed = parseKilled(m);
      const out = killed === undefined ? [] : [this.complete(killed, at, usec, seq)];
      this.lastOomLineAt = at;
      return out;
    }
    if ((m = RE_INVOKED.exec(text)) !== null) {
      this.onInvoked(m, at, usec);
      this.lastOomLineAt = at;
      return [];
    }
    if ((m = RE_SUMMARY.exec(text)) !== null) {
      this.onSummary(m, at, usec);
      this.lastOomLineAt = at;
      return [];
    }
    if ((m = RE_SELECT.exec(text)) !== null) {
      this.onSelect(m, at);
      this.lastOomLineAt = at;
      return [];
    }
    if (this.open.length === 0) return [];
    if ((m = RE_MEMORY.exec(text)) !== null) {
      this.onMemory(m);
      this.lastOomLineAt = at;
    } else if ((m = RE_TASK_IN.exec(text)) !== null) {
      const only = this.only();
      if (only !== undefined && only.taskIn === undefined && m[1] !== undefined && m[2] !== undefined) {
        only.taskIn = { cgroup: m[1], oomCgroup: m[2] };
      }
      this.lastOomLineAt = at;
    } else if ((m = RE_STATS.exec(text)) !== null) {
      // First stats line of a report names the memcg that hit its limit; later ones are its children (<= 4.19).
      const only = this.only();
      if (only !== undefined && only.statsPath === undefined && m[1] !== undefined) only.statsPath = m[1];
      this.lastOomLineAt = at;
    } else if ((m = RE_CPU.exec(text)) !== null) {
      this.onCpu(m);
    }
    return [];
  }

  private only(): Pending | undefined {
    return this.open.length === 1 ? this.open[0] : undefined;
  }

  private expire(at: number, usec: number | undefined): void {
    const stale = (openedAt: number, openedUsec: number | undefined): boolean =>
      at - openedAt > this.maxAgeRecords ||
      (usec !== undefined && openedUsec !== undefined && usec - openedUsec > this.maxAgeUsec);
    if (this.open.length > 0) this.open = this.open.filter((p) => !stale(p.openedAt, p.openedUsec));
    for (const [pid, l] of this.loose) if (stale(l.at, l.usec)) this.loose.delete(pid);
  }

  private onInvoked(m: RegExpExecArray, at: number, usec: number | undefined): void {
    const [, comm, maskS, flags, orderS, adjS] = m;
    const gfpMask = maskS === undefined ? undefined : Number(maskS);
    const order = int(orderS);
    const oomScoreAdj = int(adjS);
    if (comm === undefined || gfpMask === undefined || !Number.isSafeInteger(gfpMask) || order === undefined || oomScoreAdj === undefined) {
      return;
    }
    // A report that already printed its summary or victim choice is at its very end; a new header
    // means its Killed line was lost. Drop it so it cannot make the new report ambiguous.
    this.open = this.open.filter((p) => p.summary === undefined && p.selected === undefined);
    const invoker: OomInvoker =
      flags === undefined ? { comm, gfpMask, order, oomScoreAdj } : { comm, gfpMask, gfpFlags: flags, order, oomScoreAdj };
    this.open.push({ openedAt: at, openedUsec: usec, invoker, invokerPidSet: false, memcgAmbiguous: false });
    while (this.open.length > this.maxOpenReports) this.open.shift();
  }

  private onCpu(m: RegExpExecArray): void {
    const pid = int(m[1]);
    const rest = m[2];
    if (pid === undefined || rest === undefined) return;
    // The stack dump right after the header names the invoking task; accept it only for a report
    // still in its header phase whose comm matches, and only if exactly one report qualifies.
    const fits = this.open.filter(
      (p) =>
        !p.invokerPidSet &&
        p.memcg === undefined &&
        p.taskIn === undefined &&
        p.summary === undefined &&
        p.selected === undefined &&
        (rest === p.invoker.comm || rest.startsWith(p.invoker.comm + ' ')),
    );
    const target = fits.length === 1 ? fits[0] : undefined;
    if (target === undefined) {
      for (const p of fits) p.invokerPidSet = true; // ambiguous: none of them gets a pid
      return;
    }
    target.invoker = { ...target.invoker, pid };
    target.invokerPidSet = true;
  }

  private onMemory(m: RegExpExecArray): void {
    const usageBytes = kbToBytes(m[1]);
    const failcnt = int(m[3]);
    const limitBytes: number | 'max' = kbToBytes(m[2]) ?? 'max';
    if (this.open.length !== 1) {
      for (const p of this.open) p.memcgAmbiguous = true;
      return;
    }
    const p = this.open[0];
    if (p === undefined || usageBytes === undefined || failcnt === undefined) return;
    if (p.memcg !== undefined) {
      p.memcgAmbiguous = true; // two memory: lines in one report: something is mixed in
      return;
    }
    p.memcg = { usageBytes, limitBytes, failcnt };
  }

  private onSummary(m: RegExpExecArray, at: number, usec: number | undefined): void {
    const pid = int(m[3]);
    const uid = int(m[4]);
    const comm = m[2];
    if (pid === undefined || uid === undefined || comm === undefined || m[1] === undefined) return;
    const summary: Summary = { ...parseSummaryHead(m[1]), comm, pid, uid };
    const only = this.only();
    const agrees = only?.statsPath === undefined || summary.oomCgroup === undefined || only.statsPath === summary.oomCgroup;
    if (only !== undefined && only.summary === undefined && agrees) {
      only.summary = summary;
      return;
    }
    // No report, or more than one open: keep it by pid only; it can join a Killed line of the same pid and comm.
    this.loose.set(pid, { summary, at, usec });
  }

  private onSelect(m: RegExpExecArray, at: number): void {
    const pid = int(m[2]);
    const comm = m[3];
    if (pid === undefined || comm === undefined) return;
    const only = this.only();
    if (only !== undefined && only.selected === undefined && m[1] !== undefined) only.selected = { pid, comm, at, message: m[1] };
  }

  /** Pick the open report this Killed line closes, or none. */
  private claim(k: Killed, at: number): Pending | undefined {
    const byPid = this.open.filter((p) => p.summary?.pid === k.pid || p.selected?.pid === k.pid);
    if (byPid.length === 1) return byPid[0];
    if (byPid.length > 1) return undefined;
    // Pre-5.1 sacrifice of a child: "Kill process P" then immediately "Killed process C".
    const adjacent = this.open.filter((p) => p.selected !== undefined && p.selected.at === this.lastOomLineAt && this.lastOomLineAt === at - 1);
    if (adjacent.length === 1 && this.open.length === 1) return adjacent[0];
    // One open report that has not named another victim: the kernel prints the Killed line right
    // after its header under oom_lock.
    const only = this.only();
    if (only !== undefined && only.summary === undefined && only.selected === undefined) return only;
    return undefined;
  }

  private complete(k: Killed, at: number, usec: number | undefined, seq: number | undefined): OomKill {
    const claimed = this.claim(k, at);
    // Whatever was open when this Killed line came is over: the kernel prints a report's lines
    // up to its Killed line before the next report starts. Reports we could not tie to this line
    // lost their own Killed line or are interleaved beyond telling apart; keep only their pid-keyed
    // summaries (in `loose`).
    for (const o of this.open) {
      if (o !== claimed && o.summary !== undefined) this.loose.set(o.summary.pid, { summary: o.summary, at, usec });
    }
    this.open = [];
    // A header whose first stats line names a different memcg than the kill does belongs to another report.
    const named = claimed?.summary?.oomCgroup ?? claimed?.taskIn?.oomCgroup;
    const p = claimed !== undefined && (claimed.statsPath === undefined || named === undefined || claimed.statsPath === named) ? claimed : undefined;

    let summary: Summary | undefined;
    const loose = this.loose.get(k.pid);
    if (p?.summary !== undefined && p.summary.pid === k.pid && p.summary.comm === k.comm) summary = p.summary;
    else if (p?.summary === undefined && loose !== undefined && loose.summary.comm === k.comm) summary = loose.summary;
    if (loose !== undefined) this.loose.delete(k.pid);

    let cgroup = summary?.taskCgroup;
    let oomCgroup = summary?.oomCgroup;
    if (summary === undefined && p?.taskIn !== undefined) {
      cgroup = p.taskIn.cgroup;
      oomCgroup = p.taskIn.oomCgroup;
    }
    // The memcg figures belong to the memcg named by the first stats line; keep them only if that
    // agrees with the cgroup the kill names (when both are known).
    const statsAgree = p?.statsPath === undefined || oomCgroup === undefined || p.statsPath === oomCgroup;
    if (oomCgroup === undefined && p?.statsPath !== undefined && summary === undefined && p.memcg !== undefined) {
      oomCgroup = p.statsPath;
    }
    const memcg = p !== undefined && !p.memcgAmbiguous && statsAgree ? p.memcg : undefined;

    const form: OomForm = summary !== undefined || (k.message !== undefined && p?.selected === undefined) ? '5.x+' : 'pre-5.0';
    const message = k.message ?? p?.selected?.message;

    const base: OomKill = {
      usecMonotonic: usec,
      seq,
      victim: { pid: k.pid, comm: fieldText(k.comm), uid: k.uid ?? (summary !== undefined ? summary.uid : undefined) },
      cgroup: cgroup === undefined ? undefined : fieldText(cgroup),
      oomCgroup: oomCgroup === undefined ? undefined : fieldText(oomCgroup),
      constraint: summary?.constraint,
      message: message === undefined ? undefined : fieldText(message),
      totalVmBytes: k.totalVmBytes,
      anonRssBytes: k.anonRssBytes,
      fileRssBytes: k.fileRssBytes,
      shmemRssBytes: k.shmemRssBytes,
      pageTablesBytes: k.pageTablesBytes,
      oomScoreAdj: k.oomScoreAdj,
      form,
    };
    let out: OomKill = base;
    if (memcg !== undefined) out = { ...out, memcg };
    if (p !== undefined) out = { ...out, invoker: { ...p.invoker, comm: fieldText(p.invoker.comm) } };
    return out;
  }
}
