// Per-process memory for the selected processes (top N by RSS, plus --process.include) and
// per-group sums over every process. status is cheap (~11 us) and read every collection;
// smaps_rollup walks the process's page table (~35-65 ns per resident 4 KiB page, the process
// waits meanwhile), so it is read for selected processes only, on its own slower interval,
// skipped above --process.smaps-max-rss unless included by name, and its time is counted.
import * as c from '../model/catalog.js';
import type { HostFs } from '../host/hostFs.js';
import type { CollectResult, Labels, MetricDesc } from '../model/types.js';
import { describe, isGone } from '../errors.js';
import { parseStatus, type ProcStatus } from '../procfs/status.js';
import { parseSmapsRollup, type SmapsRollup } from '../procfs/smapsRollup.js';
import { memoryCgroupPath, parseProcCgroup } from '../procfs/procCgroup.js';
import { parseSingleInt } from '../procfs/common.js';
import type { CgroupMode } from '../cgroupfs/discover.js';
import type { GroupRule } from '../config/load.js';
import type { Collector } from './collector.js';
import { SampleSink } from './samples.js';
import { YieldPoint } from './yieldPoint.js';

export interface ProcessOptions {
  top: number;
  include: RegExp | undefined;
  smapsIntervalMs: number;
  smapsMaxRssBytes: number;
  smapsScope: 'selected' | 'all' | 'none';
  groups: readonly GroupRule[];
  /** Which /proc/PID/cgroup line names the memory cgroup. */
  cgroupMode: CgroupMode;
}

interface Proc {
  pid: number;
  comm: string;
  status: ProcStatus;
  rssBytes: number;
}

interface CachedRollup {
  comm: string;
  readAtMs: number;
  value: SmapsRollup;
}

const GROUP_FIELDS = [
  [c.groupResident, 'residentBytes'],
  [c.groupResidentAnon, 'residentAnonBytes'],
  [c.groupResidentFile, 'residentFileBytes'],
  [c.groupResidentShmem, 'residentShmemBytes'],
  [c.groupVirtual, 'virtualBytes'],
  [c.groupSwap, 'swapBytes'],
  [c.groupPageTables, 'pageTablesBytes'],
] as const;

export const PROCESS_METRICS: readonly MetricDesc[] = [
  c.processResident, c.processResidentAnon, c.processResidentFile, c.processResidentShmem, c.processResidentPeak,
  c.processVirtual, c.processSwap, c.processPageTables, c.processPss, c.processPssAnon, c.processPssFile,
  c.processPssShmem, c.processUss, c.processSwapPss, c.processOomScore, c.processOomScoreAdj,
  c.processSmapsReadSeconds, c.processSmapsSkipped,
  ...GROUP_FIELDS.map(([d]) => d), c.groupPss, c.groupUss, c.groupProcesses,
];

export class ProcessCollector implements Collector {
  readonly name = 'process';
  readonly metrics = PROCESS_METRICS;

  private readonly rollups = new Map<number, CachedRollup>();
  private smapsReadSeconds = 0;
  private smapsSkipped = 0;
  private readonly needCmdline: boolean;

  constructor(
    private readonly opts: ProcessOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.needCmdline = opts.groups.some((g) => g.cmdline !== undefined);
  }

  async collect(host: HostFs, signal: AbortSignal): Promise<CollectResult> {
    const out = new SampleSink();
    const yp = new YieldPoint(signal);
    const procs: Proc[] = [];
    const groups = new Map<string, { n: number; sums: (number | undefined)[]; pss: number; uss: number; pssCount: number }>();

    // /proc itself unreadable is the one failure of this area: let it throw.
    const pids = host.list(host.procRoot).filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57);
    for (const name of pids) {
      // A promise per pid costs more than the check: await only when the time slice is used up.
      if (yp.due()) await yp.turn();
      const pid = Number(name);
      const statusPath = host.proc(`${name}/status`);
      let text: string | undefined;
      try {
        text = host.tryRead(statusPath, true);
      } catch (err) {
        out.problem('read_status', describe(err), statusPath);
        continue;
      }
      if (text === undefined) continue; // exited since the listing: normal
      const st = parseStatus(text, statusPath);
      out.parseProblems(st.problems);
      // Kernel threads have no memory of their own (no VmRSS line).
      if (st.value.residentBytes === undefined) continue;
      const comm = st.value.name ?? '';
      procs.push({ pid, comm, status: st.value, rssBytes: st.value.residentBytes });
    }

    // Selection: the top N by resident memory, plus the processes included by name.
    const byRss = [...procs].sort((a, b) => b.rssBytes - a.rssBytes);
    const selected = new Set(byRss.slice(0, this.opts.top));
    if (this.opts.include !== undefined) for (const p of procs) if (this.opts.include.test(p.comm)) selected.add(p);

    const nowMs = this.now();
    const live = new Set<number>();
    for (const p of procs) {
      live.add(p.pid);
      const group = this.groupOf(host, p);
      let g = groups.get(group);
      if (g === undefined) {
        g = { n: 0, sums: GROUP_FIELDS.map(() => undefined), pss: 0, uss: 0, pssCount: 0 };
        groups.set(group, g);
      }
      g.n++;
      for (let i = 0; i < GROUP_FIELDS.length; i++) {
        // A field no process of the group has (RssAnon before 4.5) gives no sample, not 0.
        const v = p.status[GROUP_FIELDS[i]![1]];
        if (v !== undefined) g.sums[i] = (g.sums[i] ?? 0) + v;
      }
      const wantRollup = this.opts.smapsScope === 'all' || (this.opts.smapsScope === 'selected' && selected.has(p));
      if (wantRollup && yp.due()) await yp.turn();
      const rollup = wantRollup ? this.rollup(host, p, nowMs, out) : undefined;
      if (rollup !== undefined && this.opts.smapsScope === 'all') {
        g.pss += rollup.pssBytes ?? 0;
        g.uss += rollup.ussBytes ?? 0;
        g.pssCount++;
      }
      if (selected.has(p)) this.emitProcess(host, p, rollup, out);
    }
    for (const pid of this.rollups.keys()) if (!live.has(pid)) this.rollups.delete(pid);

    for (const [group, g] of groups) {
      const l = { group };
      GROUP_FIELDS.forEach(([desc], i) => out.add(desc, l, g.sums[i]));
      if (this.opts.smapsScope === 'all' && g.pssCount > 0) {
        out.add(c.groupPss, l, g.pss);
        out.add(c.groupUss, l, g.uss);
      }
      out.add(c.groupProcesses, l, g.n);
    }
    out.add(c.processSmapsReadSeconds, {}, this.smapsReadSeconds);
    out.add(c.processSmapsSkipped, {}, this.smapsSkipped);
    return out.result();
  }

  private groupOf(host: HostFs, p: Proc): string {
    if (this.opts.groups.length === 0) return p.comm;
    let cmdline: string | undefined;
    if (this.needCmdline) {
      try {
        cmdline = host.tryRead(host.proc(`${p.pid}/cmdline`))?.replace(/\0/g, ' ').trim();
      } catch (err) {
        // Unreadable cmdline (EACCES, EIO on a zombie): rules on cmdline cannot match it; rules on comm still can.
        cmdline = isGone(err) ? undefined : '';
      }
    }
    for (const rule of this.opts.groups) {
      if (rule.comm !== undefined && !rule.comm.test(p.comm)) continue;
      if (rule.cmdline !== undefined && (cmdline === undefined || !rule.cmdline.test(cmdline))) continue;
      return rule.name;
    }
    return p.comm;
  }

  private rollup(host: HostFs, p: Proc, nowMs: number, out: SampleSink): SmapsRollup | undefined {
    const cached = this.rollups.get(p.pid);
    if (cached !== undefined && cached.comm === p.comm && nowMs - cached.readAtMs < this.opts.smapsIntervalMs) return cached.value;
    const includedByName = this.opts.include?.test(p.comm) ?? false;
    if (p.rssBytes > this.opts.smapsMaxRssBytes && !includedByName) {
      this.smapsSkipped++;
      return undefined;
    }
    const path = host.proc(`${p.pid}/smaps_rollup`);
    const t0 = performance.now();
    let text: string | undefined;
    try {
      text = host.tryRead(path, true);
    } catch (err) {
      // EACCES without CAP_SYS_PTRACE; the process keeps its status-based series.
      out.problem('read_smaps', describe(err), path);
      return undefined;
    } finally {
      this.smapsReadSeconds += (performance.now() - t0) / 1000;
    }
    if (text === undefined) return undefined;
    const r = parseSmapsRollup(text, path);
    out.parseProblems(r.problems);
    this.rollups.set(p.pid, { comm: p.comm, readAtMs: nowMs, value: r.value });
    return r.value;
  }

  private emitProcess(host: HostFs, p: Proc, rollup: SmapsRollup | undefined, out: SampleSink): void {
    const small = (file: string): string | undefined => {
      try {
        return host.tryRead(host.proc(`${p.pid}/${file}`));
      } catch (err) {
        out.problem(`read_${file}`, describe(err), host.proc(`${p.pid}/${file}`));
        return undefined;
      }
    };
    const cgText = small('cgroup');
    let cgroup: string | undefined;
    if (cgText !== undefined) {
      const parsed = parseProcCgroup(cgText, host.proc(`${p.pid}/cgroup`));
      out.parseProblems(parsed.problems);
      cgroup = memoryCgroupPath(parsed.value, this.opts.cgroupMode);
    }
    const l: Labels = { pid: String(p.pid), comm: p.comm, cgroup: cgroup ?? '' };
    const s = p.status;
    out.add(c.processResident, l, s.residentBytes);
    out.add(c.processResidentAnon, l, s.residentAnonBytes);
    out.add(c.processResidentFile, l, s.residentFileBytes);
    out.add(c.processResidentShmem, l, s.residentShmemBytes);
    out.add(c.processResidentPeak, l, s.residentPeakBytes);
    out.add(c.processVirtual, l, s.virtualBytes);
    out.add(c.processSwap, l, s.swapBytes);
    out.add(c.processPageTables, l, s.pageTablesBytes);
    if (rollup !== undefined) {
      out.add(c.processPss, l, rollup.pssBytes);
      out.add(c.processPssAnon, l, rollup.pssAnonBytes);
      out.add(c.processPssFile, l, rollup.pssFileBytes);
      out.add(c.processPssShmem, l, rollup.pssShmemBytes);
      out.add(c.processUss, l, rollup.ussBytes);
      out.add(c.processSwapPss, l, rollup.swapPssBytes);
    }
    for (const [desc, file] of [[c.processOomScore, 'oom_score'], [c.processOomScoreAdj, 'oom_score_adj']] as const) {
      const t = small(file);
      if (t === undefined) continue;
      const v = parseSingleInt(t, host.proc(`${p.pid}/${file}`));
      out.parseProblems(v.problems);
      out.add(desc, l, v.value);
    }
  }
}
