// cgroup v2 guest test: the real exporter (loadConfig, startExporter, HTTP) over a real cgroup v2
// hierarchy inside the VM, every value compared with the kernel file it comes from (read just before
// and just after the scrape: "the same moment").
//
//   /mlp        memory.max 256 MiB, subtree_control +memory          (no process)
//   /mlp/app    memory.max 512 MiB (looser than its parent), memory.high 200 MiB, memory.swap.max 0,
//               subtree_control +memory (so no process of its own: v2's no-internal-processes rule)
//   /mlp/app/w  no limits; one process with 48 MiB of touched anonymous memory, mapping a 16 MiB file MAP_SHARED
//   /mlp/app/peer  no limits; one process mapping the same file MAP_SHARED
//
// The two processes share the file's pages (mmap MAP_SHARED|MAP_POPULATE through koffi: node has no
// mmap), so each one's PSS is about 8 MiB below its RSS; node's own text pages are shared too.
// Runs only inside the VM (MEMLENS_IN_VM=1).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { release } from 'node:os';
import { startExporter, type Running } from '../../src/main.js';
import { discoverHierarchy } from '../../src/cgroupfs/hierarchy.js';
import { HostFs } from '../../src/host/hostFs.js';
import { createLogger } from '../../src/log.js';
import { freePort, parseExposition, select, valueOf, type ExpoSample } from '../helpers/exposition.js';
import {
  CG_ROOT, MiB, exporterConfig, get, kbField, keyed, makeCgroup, moveAndGo, pressureTotals, read, readInt, removeTree, skip, startWorkload,
  reportLingering, stopWorkload, writeCg, type Workload,
} from './guest.js';
import { cleanupSteps } from '../helpers/cleanup.js';

const TOLERANCE_PCT = 2;
const ANON_MIB = 48;
const FILE_MIB = 16;
const SHARED_FILE = '/tmp/mlp-shared.bin';
const MLP = { path: '/mlp', dir: `${CG_ROOT}/mlp` };
const APP = { path: '/mlp/app', dir: `${CG_ROOT}/mlp/app` };
const W = { path: '/mlp/app/w', dir: `${CG_ROOT}/mlp/app/w` };
const PEER = { path: '/mlp/app/peer', dir: `${CG_ROOT}/mlp/app/peer` };
const CGROUPS = [MLP, APP, W, PEER];
const COMM_W = 'mlp-work';
const COMM_APP = 'mlp-peer';

function pctDiff(actual: number, expected: number): number {
  if (actual === expected) return 0;
  return (Math.abs(actual - expected) / expected) * 100;
}

/** actual within TOLERANCE_PCT of each kernel reading (taken just before and just after the scrape). */
function assertNear(t: TestContext, what: string, actual: number, readings: readonly number[]): void {
  const diffs = readings.map((r) => pctDiff(actual, r));
  t.diagnostic(`${what}: memlens ${actual} vs kernel ${readings.join(' / ')} (${diffs.map((d) => d.toFixed(3)).join(' / ')} %)`);
  for (const [i, r] of readings.entries()) {
    assert.ok(diffs[i]! <= TOLERANCE_PCT, `${what}: memlens says ${actual}, the kernel ${r}: ${diffs[i]!.toFixed(3)} % apart (> ${TOLERANCE_PCT} %)`);
  }
}

/** A counter the kernel only increases: memlens's value lies between the readings before and after. */
function assertBetween(what: string, actual: number, before: number, afterV: number): void {
  assert.ok(actual >= before && actual <= afterV, `${what}: memlens ${actual}, kernel ${before} before and ${afterV} after the scrape`);
}

interface CgReading {
  current: number;
  stat: Map<string, number>;
  events: Map<string, number>;
  peak: number;
  pressure: { some: number; full: number };
  swapCurrent: number | undefined;
}

interface KernelReading {
  cg: Map<string, CgReading>;
  rss: Map<number, number>;
  pss: Map<number, number>;
}

function readKernel(pids: readonly number[]): KernelReading {
  const cg = new Map<string, CgReading>();
  for (const c of CGROUPS) {
    let swapCurrent: number | undefined;
    try {
      swapCurrent = readInt(`${c.dir}/memory.swap.current`);
    } catch {
      swapCurrent = undefined;
    }
    cg.set(c.path, {
      current: readInt(`${c.dir}/memory.current`),
      stat: keyed(read(`${c.dir}/memory.stat`)),
      events: keyed(read(`${c.dir}/memory.events`)),
      peak: readInt(`${c.dir}/memory.peak`),
      pressure: pressureTotals(read(`${c.dir}/memory.pressure`)),
      swapCurrent,
    });
  }
  const rss = new Map<number, number>();
  const pss = new Map<number, number>();
  for (const pid of pids) {
    rss.set(pid, kbField(read(`/proc/${pid}/status`), 'VmRSS', `/proc/${pid}/status`));
    pss.set(pid, kbField(read(`/proc/${pid}/smaps_rollup`), 'Pss', `/proc/${pid}/smaps_rollup`));
  }
  return { cg, rss, pss };
}

describe('v2 guest: collectors over a real cgroup v2 hierarchy, through /metrics', { skip }, () => {
  let running: Running | undefined;
  let base = '';
  const workloads: Workload[] = [];
  let wl: Workload; // in /mlp/app/w
  let shareWl: Workload; // in /mlp/app/peer
  let swapMaxSet = false;
  const killAll = (): void => {
    for (const w of workloads) w.child.kill('SIGKILL');
  };

  before(async () => {
    process.once('exit', killAll);
    await removeTree(MLP.dir);
    makeCgroup('mlp');
    writeCg(MLP.dir, 'memory.max', String(256 * MiB));
    writeCg(MLP.dir, 'cgroup.subtree_control', '+memory');
    makeCgroup('mlp/app');
    writeCg(APP.dir, 'memory.max', String(512 * MiB));
    writeCg(APP.dir, 'memory.high', String(200 * MiB));
    try {
      writeCg(APP.dir, 'memory.swap.max', '0');
      swapMaxSet = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // no swap accounting in this kernel
    }
    writeCg(APP.dir, 'cgroup.subtree_control', '+memory');
    makeCgroup('mlp/app/w');
    makeCgroup('mlp/app/peer');
    writeFileSync(SHARED_FILE, randomBytes(FILE_MIB * MiB));

    shareWl = await startWorkload(COMM_APP, { MLW_MAP: SHARED_FILE });
    workloads.push(shareWl);
    wl = await startWorkload(COMM_W, { MLW_ANON_MIB: String(ANON_MIB), MLW_MAP: SHARED_FILE });
    workloads.push(wl);
    await moveAndGo(shareWl, PEER.dir, PEER.path);
    await moveAndGo(wl, W.dir, W.path);

    const port = await freePort();
    // --cgroup.stat-items all: the test checks every byte item memory.stat has (the default exports a chosen few).
    const config = exporterConfig(port, ['--process.include', `^(${COMM_W}|${COMM_APP})$`, '--process.smaps-interval', '0s', '--cgroup.stat-items', 'all']);
    running = await startExporter(config, createLogger('warn'));
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    const { errors, attempt } = cleanupSteps();
    await attempt(() => running?.close());
    for (const w of workloads) await attempt(() => stopWorkload(w));
    await attempt(() => removeTree(MLP.dir));
    await attempt(() => rmSync(SHARED_FILE, { force: true }));
    process.removeListener('exit', killAll);
    reportLingering('collectors');
    if (errors.length > 0) throw new AggregateError(errors, 'v2 collectors test cleanup failed');
  });

  /** Kernel files read just before and just after one scrape. */
  const scrapeBetween = async (): Promise<{ samples: ExpoSample[]; readings: [KernelReading, KernelReading] }> => {
    const pids = [wl.pid, shareWl.pid];
    const r0 = readKernel(pids);
    const res = await get(`${base}/metrics`);
    const r1 = readKernel(pids);
    assert.equal(res.status, 200, res.body.slice(0, 500));
    return { samples: parseExposition(res.body), readings: [r0, r1] };
  };

  test('hierarchy discovery picks cgroup v2 at /sys/fs/cgroup', () => {
    const h = discoverHierarchy(new HostFs('/proc', '/sys'));
    assert.deepEqual(h, { mode: 'v2', mountPoint: '/sys/fs/cgroup', root: '/' });
  });

  test('every collector succeeds', async () => {
    const { samples } = await scrapeBetween();
    for (const s of select(samples, 'memlens_collector_success')) assert.equal(s.value, 1, `collector ${s.labels['collector']}`);
    for (const collector of ['process', 'cgroup', 'host', 'oom']) assert.equal(valueOf(samples, 'memlens_collector_success', { collector }), 1, collector);
  });

  test('usage = memory.current, working set = current - inactive_file, stat anon = memory.stat anon', async (t) => {
    const { samples, readings } = await scrapeBetween();
    for (const c of CGROUPS) {
      const l = { cgroup: c.path };
      const at = readings.map((r) => r.cg.get(c.path)!);
      const usage = valueOf(samples, 'memlens_cgroup_memory_usage_bytes', l);
      assertNear(t, `${c.path} usage vs memory.current`, usage, at.map((r) => r.current));
      const ws = valueOf(samples, 'memlens_cgroup_memory_working_set_bytes', l);
      assertNear(t, `${c.path} working set vs current - inactive_file`, ws, at.map((r) => r.current - r.stat.get('inactive_file')!));
      const anon = valueOf(samples, 'memlens_cgroup_memory_stat_bytes', { ...l, item: 'anon' });
      assertNear(t, `${c.path} stat anon vs memory.stat anon`, anon, at.map((r) => r.stat.get('anon')!));
      // With --cgroup.stat-items all, every byte item memory.stat has is exported under its own name.
      for (const item of ['file', 'kernel_stack', 'inactive_file', 'active_anon', 'shmem', 'file_mapped']) {
        assert.equal(select(samples, 'memlens_cgroup_memory_stat_bytes', { ...l, item }).length, 1, `${c.path} stat item ${item}`);
      }
      assert.equal(select(samples, 'memlens_cgroup_memory_stat_bytes', { ...l, item: 'pgfault' }).length, 0, 'pgfault is a count, not bytes');
    }
    const wUsage = valueOf(samples, 'memlens_cgroup_memory_usage_bytes', { cgroup: W.path });
    assert.ok(wUsage >= ANON_MIB * MiB, `${W.path} usage ${wUsage} below the ${ANON_MIB} MiB touched there`);
    const wAnon = valueOf(samples, 'memlens_cgroup_memory_stat_bytes', { cgroup: W.path, item: 'anon' });
    assert.ok(wAnon >= ANON_MIB * MiB, `${W.path} anon ${wAnon} below the ${ANON_MIB} MiB touched there`);
    // Hierarchical: the parent's usage includes its descendants'.
    assert.ok(valueOf(samples, 'memlens_cgroup_memory_usage_bytes', { cgroup: MLP.path }) >= wUsage);
  });

  test('limits: own memory.max (absent without one); effective limit through the tighter parent', async (t) => {
    const { samples } = await scrapeBetween();
    assert.equal(valueOf(samples, 'memlens_cgroup_memory_limit_bytes', { cgroup: MLP.path }), 268435456);
    assert.equal(valueOf(samples, 'memlens_cgroup_memory_limit_bytes', { cgroup: APP.path }), 536870912);
    for (const c of [W, PEER]) {
      assert.deepEqual(select(samples, 'memlens_cgroup_memory_limit_bytes', { cgroup: c.path }), [], `${c.path} has memory.max "max": no limit sample`);
      assert.equal(read(`${c.dir}/memory.max`).trim(), 'max');
    }
    for (const c of CGROUPS) {
      // /mlp/app's own 512 MiB is looser than /mlp's 256 MiB: the parent's applies (and the guest's ~1 GiB RAM is looser still).
      assert.equal(valueOf(samples, 'memlens_cgroup_memory_effective_limit_bytes', { cgroup: c.path }), 268435456, c.path);
    }
    const hostTotal = valueOf(samples, 'memlens_host_memory_total_bytes');
    t.diagnostic(`guest MemTotal ${hostTotal}; effective limit of ${CGROUPS.map((c) => c.path).join(', ')}: 268435456`);
    assert.ok(hostTotal > 268435456);
  });

  test('memory.peak, memory.swap.current, memory.events, memory.pressure, processes', async (t) => {
    const { samples, readings } = await scrapeBetween();
    for (const c of CGROUPS) {
      const l = { cgroup: c.path };
      const [b, a] = readings.map((r) => r.cg.get(c.path)!) as [CgReading, CgReading];
      assertBetween(`${c.path} peak vs memory.peak`, valueOf(samples, 'memlens_cgroup_memory_peak_bytes', l), b.peak, a.peak);
      if (b.swapCurrent !== undefined) assertBetween(`${c.path} swap vs memory.swap.current`, valueOf(samples, 'memlens_cgroup_memory_swap_usage_bytes', l), b.swapCurrent, a.swapCurrent!);
      for (const event of ['low', 'high', 'max', 'oom', 'oom_kill']) {
        assert.ok(b.events.has(event), `memory.events of ${c.path} has ${event}`);
        assertBetween(`${c.path} events{event=${event}}`, valueOf(samples, 'memlens_cgroup_memory_events_total', { ...l, event }), b.events.get(event)!, a.events.get(event)!);
      }
      // Every key of memory.events (oom_group_kill since 5.17), nothing else.
      assert.deepEqual(select(samples, 'memlens_cgroup_memory_events_total', l).map((s) => s.labels['event']).sort(), [...b.events.keys()].sort());
      assertBetween(`${c.path} oom kills`, valueOf(samples, 'memlens_cgroup_memory_oom_kills_total', l), b.events.get('oom_kill')!, a.events.get('oom_kill')!);
      for (const kind of ['some', 'full'] as const) {
        const v = valueOf(samples, 'memlens_cgroup_memory_pressure_seconds_total', { ...l, kind });
        // total= is in microseconds; the float division may be off in the last digit.
        assert.ok(v >= b.pressure[kind] / 1e6 - 1e-9 && v <= a.pressure[kind] / 1e6 + 1e-9, `${c.path} pressure ${kind}: memlens ${v} s, kernel total ${b.pressure[kind]} / ${a.pressure[kind]} us`);
      }
      t.diagnostic(
        `${c.path}: current ${a.current} peak ${a.peak} events ${[...a.events].map(([k, v]) => `${k}=${v}`).join(' ')} ` +
          `pressure some ${a.pressure.some} us full ${a.pressure.full} us${a.swapCurrent === undefined ? '' : ` swap.current ${a.swapCurrent}`}`,
      );
    }
    assert.equal(valueOf(samples, 'memlens_cgroup_processes', { cgroup: MLP.path }), 0);
    assert.equal(valueOf(samples, 'memlens_cgroup_processes', { cgroup: APP.path }), 0);
    assert.equal(valueOf(samples, 'memlens_cgroup_processes', { cgroup: W.path }), 1);
    assert.equal(valueOf(samples, 'memlens_cgroup_processes', { cgroup: PEER.path }), 1);
    if (swapMaxSet) assert.equal(read(`${APP.dir}/memory.swap.max`).trim(), '0');
    t.diagnostic(`memory.swap.max of ${APP.path}: ${swapMaxSet ? 'set to 0' : 'no such file (no swap accounting)'}`);
  });

  test('per process: resident = VmRSS, PSS = smaps_rollup Pss and below RSS (a shared mapping), cgroup label', async (t) => {
    const { samples, readings } = await scrapeBetween();
    for (const [w, comm, cgroup] of [[wl, COMM_W, W.path], [shareWl, COMM_APP, PEER.path]] as const) {
      const pid = String(w.pid);
      const found = select(samples, 'memlens_process_resident_bytes', { pid });
      assert.equal(found.length, 1, `one resident sample for pid ${pid}`);
      assert.deepEqual(found[0]!.labels, { pid, comm, cgroup }, 'labels pid, comm, cgroup (the path /proc/PID/cgroup prints)');
      const rss = found[0]!.value;
      assertNear(t, `pid ${pid} (${cgroup}) resident vs VmRSS`, rss, readings.map((r) => r.rss.get(w.pid)!));
      const pss = valueOf(samples, 'memlens_process_pss_bytes', { pid });
      assertNear(t, `pid ${pid} (${cgroup}) pss vs smaps_rollup Pss`, pss, readings.map((r) => r.pss.get(w.pid)!));
      assert.ok(pss < rss, `pid ${pid}: pss ${pss} not below resident ${rss}`);
      // The 16 MiB file is mapped (and populated) by both: each gets half of it in its PSS.
      assert.ok(rss - pss >= 0.95 * (FILE_MIB / 2) * MiB, `pid ${pid}: resident - pss = ${rss - pss}, expected at least about ${FILE_MIB / 2} MiB`);
      const shmem = valueOf(samples, 'memlens_process_resident_shmem_bytes', { pid });
      assert.ok(shmem >= FILE_MIB * MiB, `pid ${pid}: resident_shmem ${shmem} below the ${FILE_MIB} MiB tmpfs file it maps`);
    }
    const anon = valueOf(samples, 'memlens_process_resident_anon_bytes', { pid: String(wl.pid) });
    assert.ok(anon >= ANON_MIB * MiB, `resident_anon ${anon} below the ${ANON_MIB} MiB touched`);
  });

  test('no interval peak on this kernel: memory.peak has no per-fd reset before Linux 6.12', async (t) => {
    // memlens_cgroup_memory_interval_peak_bytes needs a held memory.peak fd that is reset ("reset" written
    // to it) after each read: the per-fd reset came with Linux 6.12. Here (6.1) the write fails with
    // EINVAL, so there is no interval peak to report, and the series must be absent, not a made-up value.
    let answer: string;
    const fd = openSync(`${W.dir}/memory.peak`, constants.O_RDWR);
    try {
      writeSync(fd, 'reset\n');
      answer = 'accepted';
    } catch (err) {
      answer = (err as NodeJS.ErrnoException).code ?? String(err);
    } finally {
      closeSync(fd);
    }
    t.diagnostic(`kernel ${release()}: write "reset" to memory.peak -> ${answer}`);
    assert.equal(answer, 'EINVAL', 'this kernel resets memory.peak per fd: the interval peak could be served here');
    const { samples } = await scrapeBetween();
    assert.deepEqual(select(samples, 'memlens_cgroup_memory_interval_peak_bytes'), []);
  });
});
