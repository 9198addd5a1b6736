// One snapshot of a cgroup: its memory files and, for every process in it (child cgroups
// included), what tells where the memory went. The capture races the OOM killer, so it reads in
// the order of value per microsecond: everything cheap first (cgroup files, status, oom_score of
// every process), then rule actions (signals go out early so the dumps they ask for are written
// before a kill), then smaps_rollup biggest process first (it walks the page tables), then smaps
// (the same walk, per mapping). Each process records how far its capture got: one killed midway
// keeps what was read. Reads are synchronous whole-file reads (HostFs); the event loop gets a
// turn between processes so kernel events (the OOM report itself) do not wait behind a capture.
import { setImmediate as turn } from 'node:timers/promises';
import type { KubeRef } from '../kubernetes/kubelet.js';
import type { HostFs } from '../host/hostFs.js';
import type { CgroupTree } from '../cgroupfs/tree.js';
import { readMemoryCgroup } from '../cgroupfs/memory.js';
import type { Limit } from '../cgroupfs/limit.js';
import type { Pressure } from '../procfs/pressure.js';
import type { Problem } from '../model/types.js';
import { parseStatus, type ProcStatus } from '../procfs/status.js';
import { parseSmapsRollup, type SmapsRollup } from '../procfs/smapsRollup.js';
import { parseSmapsTop, type Mapping } from '../procfs/smaps.js';
import { parseSingleInt, textField } from '../procfs/common.js';
import { describe, isGone, MemlensError } from '../errors.js';
import type { SnapshotRule } from '../config/snapshotRules.js';
import { catchesSignal, commandEnv, expandArgv, matchingRules, notRun, runCommand, sendSignal, type ActionResult, type CommandResult } from './hooks.js';
import { isGoBinary } from './goBinary.js';

export const SNAPSHOT_FORMAT = 1;
export const TOP_MAPPINGS = 20;
/** Bounds on one capture's work: cgroups walked and processes with smaps read. */
export const MAX_CGROUPS = 1000;
export const MAX_PROCESSES = 5000;
export const MAX_SMAPS_PROCESSES = 200;
const MAX_HOOKS_AT_ONCE = 4;

export type LimitValue = number | 'max';

export interface CgroupEvidence {
  path: string;
  usageBytes: number | undefined;
  limitBytes: LimitValue | undefined;
  effectiveLimitBytes: LimitValue | undefined;
  peakBytes: number | undefined;
  swapBytes: number | undefined;
  stat: Record<string, number>;
  events: Record<string, number>;
  underOom: number | undefined;
  pressure: Pressure | undefined;
  pids: number[];
  problems: string[];
}

/** How far a process's capture got, in capture order. `smaps` is complete. */
export type ProcessStage = 'listed' | 'status' | 'smaps_rollup' | 'smaps';

export interface ProcessEvidence {
  pid: number;
  cgroup: string;
  comm: string | undefined;
  /** argv[0] only, unless --snapshot.cmdline (command lines carry secrets). environ is never read. */
  argv0: string | undefined;
  cmdline: string[] | undefined;
  stage: ProcessStage;
  /** The process was found gone at this stage (exited or killed mid-capture). */
  goneAt: ProcessStage | undefined;
  status: (ProcStatus & { state: string | undefined; threads: number | undefined }) | undefined;
  oomScore: number | undefined;
  oomScoreAdj: number | undefined;
  smapsRollup: SmapsRollup | undefined;
  topMappings: Mapping[] | undefined;
  vmaCount: number | undefined;
  /** Wall-clock ms at which each stage's read finished. */
  readAtMs: Partial<Record<ProcessStage, number>>;
  actions: ActionResult[];
  errors: string[];
}

export interface HoldRecord {
  cgroup: string;
  file: string;
  setAtMs: number;
  restoredAtMs: number | undefined;
  error: string | undefined;
}

export interface SnapshotDoc {
  format: number;
  id: string;
  time: string;
  timeMs: number;
  reason: string;
  cgroup: string;
  mode: 'v1' | 'v2';
  /** End of the /proc and cgroup reads (rule commands may still have been running). */
  captureEndMs: number;
  captureDurationMs: number;
  /** When the command actions were done too. */
  finishedMs: number;
  cgroups: CgroupEvidence[];
  processes: ProcessEvidence[];
  truncated: { cgroups: boolean; processes: boolean; smapsProcesses: number };
  hold: HoldRecord | undefined;
  /** Ids of the OOM kill records this snapshot is the evidence for. */
  oomKills: string[];
  /** The cgroup's pod and container (ids from its path, names from the kubelet's cache), when on Kubernetes. */
  kubernetes?: KubeRef;
}

export interface CaptureOptions {
  id: string;
  cmdline: boolean;
  rules: readonly SnapshotRule[];
  topMappings?: number;
  /** A turn for the event loop between processes (tests count them). */
  yieldTurn?: () => Promise<void>;
  /** Called once the /proc reads are done, before the commands finish (the store writes a first copy). */
  onCaptured?: (doc: SnapshotDoc) => void;
  hold?: HoldRecord;
  /** Output kept from all rule commands of this snapshot together (--snapshot.max-hook-output). */
  maxHookOutputBytes?: number;
  /** Written into the document as is (the cgroup's pod and container). */
  kubernetes?: KubeRef;
  /**
   * Warm-up (SnapshotService.warmUp): the cgroup asked for without its descendants, and of its processes only this one
   * (memlens itself). The same code runs as in a real capture, so the first real one does not pay for compiling it.
   */
  onlyPid?: number;
}

function limitValue(l: Limit | undefined): LimitValue | undefined {
  if (l === undefined) return undefined;
  return l.unlimited ? 'max' : l.bytes;
}

function readCgroup(host: HostFs, tree: CgroupTree, path: string, dir: string): CgroupEvidence {
  const problems: Problem[] = [];
  const m = readMemoryCgroup(host, dir, tree.mode, problems);
  const pidsText = host.tryRead(`${dir}/cgroup.procs`);
  if (pidsText === undefined) throw new MemlensError('MEMLENS_ERR_NOT_FOUND', `cgroup ${path} not found (${dir})`, { path: dir });
  const pids = pidsText.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number);
  const eff = tree.mode === 'v1' ? m.hierarchicalLimit ?? tree.effectiveLimitOf(path) : tree.effectiveLimitOf(path);
  return {
    path,
    usageBytes: m.usageBytes,
    limitBytes: limitValue(m.limit),
    effectiveLimitBytes: limitValue(eff),
    peakBytes: m.peakBytes,
    swapBytes: m.swapBytes,
    stat: Object.fromEntries(m.stat),
    events: Object.fromEntries(m.events),
    underOom: m.underOom,
    pressure: m.pressure,
    pids,
    problems: problems.map((p) => (p.path === undefined ? p.message : `${p.path}: ${p.message}`)),
  };
}

function emptyProcess(pid: number, cgroup: string): ProcessEvidence {
  return {
    pid, cgroup, comm: undefined, argv0: undefined, cmdline: undefined, stage: 'listed', goneAt: undefined, status: undefined,
    oomScore: undefined, oomScoreAdj: undefined, smapsRollup: undefined, topMappings: undefined, vmaCount: undefined,
    readAtMs: {}, actions: [], errors: [],
  };
}

/** Reads a /proc file of a process; undefined (and goneAt set) when the process is gone. */
function procRead(host: HostFs, p: ProcessEvidence, file: string, stage: ProcessStage): string | undefined {
  try {
    const text = host.read(host.proc(`${p.pid}/${file}`));
    // A process that has exited but is not reaped yet has no mm: smaps files read empty.
    if (text === '' && (file === 'smaps_rollup' || file === 'smaps')) {
      p.goneAt ??= stage;
      return undefined;
    }
    return text;
  } catch (err) {
    if (isGone(err)) p.goneAt ??= stage;
    else p.errors.push(`${file}: ${describe(err)}`);
    return undefined;
  }
}

/**
 * Captures the cgroup `cgroupPath` (as /proc/PID/cgroup prints it) and its descendants. Throws
 * only when the cgroup itself cannot be read; anything per process is recorded in the document.
 */
export async function captureSnapshot(
  host: HostFs,
  tree: CgroupTree,
  cgroupPath: string,
  reason: string,
  opts: CaptureOptions,
): Promise<SnapshotDoc> {
  const yieldTurn = opts.yieldTurn ?? (() => turn());
  const timeMs = Date.now();
  const t0 = performance.now();
  const top = opts.topMappings ?? TOP_MAPPINGS;

  // 1. Cgroup files and pids, the whole tree (breadth-first, bounded).
  const rootDir = tree.dirOf(cgroupPath);
  const cgroups: CgroupEvidence[] = [];
  const queue: [string, string][] = [[cgroupPath, rootDir]];
  let cgroupsTruncated = false;
  while (queue.length > 0) {
    const [path, dir] = queue.shift()!;
    if (cgroups.length >= MAX_CGROUPS) {
      cgroupsTruncated = true;
      break;
    }
    let cg: CgroupEvidence;
    try {
      cg = readCgroup(host, tree, path, dir);
    } catch (err) {
      if (cgroups.length === 0) throw err; // the cgroup asked for
      continue; // a child removed mid-walk
    }
    cgroups.push(cg);
    // The tree's children when it holds the cgroup; a listing below --cgroup.max-depth or for one made an instant ago.
    const node = tree.get(path);
    if (opts.onlyPid !== undefined) break;
    if (node !== undefined && node.dir === dir && tree.live) for (const child of node.children.values()) queue.push([child.path, child.dir]);
    else for (const name of host.subdirs(dir)) queue.push([path === '/' ? `/${name}` : `${path}/${name}`, `${dir}/${name}`]);
  }

  // 2. status, oom_score, oom_score_adj, argv[0] of every process.
  const processes: ProcessEvidence[] = [];
  const statusText = new Map<number, string>();
  let processesTruncated = false;
  for (const cg of cgroups) {
    for (const pid of cg.pids) {
      if (opts.onlyPid !== undefined && pid !== opts.onlyPid) continue;
      if (processes.length >= MAX_PROCESSES) {
        processesTruncated = true;
        break;
      }
      processes.push(emptyProcess(pid, cg.path));
    }
  }
  for (const p of processes) {
    const st = procRead(host, p, 'status', 'status');
    if (st !== undefined) {
      const parsed = parseStatus(st, host.proc(`${p.pid}/status`)).value;
      const threads = textField(st, 'Threads');
      p.status = { ...parsed, state: textField(st, 'State'), threads: threads === undefined ? undefined : Number(threads) };
      p.comm = parsed.name;
      statusText.set(p.pid, st);
      const score = procRead(host, p, 'oom_score', 'status');
      if (score !== undefined) p.oomScore = parseSingleInt(score, '').value;
      const adj = procRead(host, p, 'oom_score_adj', 'status');
      if (adj !== undefined) p.oomScoreAdj = parseSingleInt(adj, '').value;
      const cmd = procRead(host, p, 'cmdline', 'status');
      if (cmd !== undefined) {
        const argv = cmd.split('\0');
        if (argv[argv.length - 1] === '') argv.pop();
        p.argv0 = argv[0];
        if (opts.cmdline) p.cmdline = argv;
      }
      if (p.goneAt === undefined) p.stage = 'status';
      p.readAtMs.status = Date.now();
    }
    await yieldTurn();
  }

  // 3. Rule actions: signals now, commands started now and awaited at the end.
  const commands: Promise<void>[] = [];
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async (): Promise<void> => {
    if (running < MAX_HOOKS_AT_ONCE) {
      running++;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
  };
  const release = (): void => {
    running--;
    waiting.shift()?.();
  };
  const budget = { remaining: opts.maxHookOutputBytes ?? Infinity };
  for (const p of processes) {
    const st = statusText.get(p.pid);
    if (st === undefined) continue;
    for (const rule of matchingRules(opts.rules, p.comm, p.cgroup)) {
      const a = rule.action;
      if (a.kind === 'signal') {
        let skipped: string | undefined;
        if (rule.requireHandler && catchesSignal(st, a.signal) === false) skipped = `no ${a.signal} handler installed (SigCgt): the signal would kill it`;
        else if (a.signal === 'SIGQUIT' && !rule.allowGo) {
          const go = isGoBinary(host, host.proc(`${p.pid}/exe`));
          if (go !== false) skipped = go ? 'a Go program exits on SIGQUIT (set allow-go to send it anyway)' : 'cannot tell whether it is a Go program (SIGQUIT would make one exit)';
        }
        p.actions.push(sendSignal(rule.name, p.pid, a.signal, skipped));
      } else {
        const vars = { pid: p.pid, comm: p.comm ?? '', cgroup: p.cgroup };
        const expanded = expandArgv(a.argv, vars);
        if (expanded.argv === undefined) {
          p.actions.push(notRun(rule.name, a.argv, expanded.error));
          continue;
        }
        const argv = expanded.argv;
        commands.push(
          (async () => {
            await slot();
            try {
              const r: CommandResult = await runCommand(rule.name, argv, a.timeoutMs, a.maxOutputBytes, { env: commandEnv(vars, rule.name), budget });
              p.actions.push(r);
            } finally {
              release();
            }
          })(),
        );
      }
    }
  }

  // 4. smaps_rollup, biggest resident first.
  const bySize = processes.filter((p) => p.stage === 'status').sort((a, b) => (b.status?.residentBytes ?? 0) - (a.status?.residentBytes ?? 0));
  for (const p of bySize) {
    const text = procRead(host, p, 'smaps_rollup', 'smaps_rollup');
    if (text !== undefined) {
      p.smapsRollup = parseSmapsRollup(text, host.proc(`${p.pid}/smaps_rollup`)).value;
      if (p.goneAt === undefined) p.stage = 'smaps_rollup';
      p.readAtMs.smaps_rollup = Date.now();
    }
    await yieldTurn();
  }

  // 5. smaps, the same order, top mappings only.
  let smapsProcesses = 0;
  for (const p of bySize) {
    if (p.stage !== 'smaps_rollup') continue;
    if (smapsProcesses >= MAX_SMAPS_PROCESSES) break;
    smapsProcesses++;
    const text = procRead(host, p, 'smaps', 'smaps');
    if (text !== undefined) {
      const r = parseSmapsTop(text, host.proc(`${p.pid}/smaps`), top).value;
      p.topMappings = r.mappings;
      p.vmaCount = r.vmaCount;
      if (p.goneAt === undefined) p.stage = 'smaps';
      p.readAtMs.smaps = Date.now();
    }
    await yieldTurn();
  }

  const captureEndMs = Date.now();
  const doc: SnapshotDoc = {
    format: SNAPSHOT_FORMAT,
    id: opts.id,
    time: new Date(timeMs).toISOString(),
    timeMs,
    reason,
    cgroup: cgroupPath,
    mode: tree.mode,
    captureEndMs,
    captureDurationMs: performance.now() - t0,
    finishedMs: captureEndMs,
    cgroups,
    processes,
    truncated: { cgroups: cgroupsTruncated, processes: processesTruncated, smapsProcesses: Math.max(0, bySize.length - smapsProcesses) },
    hold: opts.hold,
    oomKills: [],
  };
  if (opts.kubernetes !== undefined) doc.kubernetes = opts.kubernetes;
  if (commands.length > 0) {
    opts.onCaptured?.(doc);
    await Promise.all(commands);
    doc.finishedMs = Date.now();
  }
  return doc;
}
