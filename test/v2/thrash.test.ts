// cgroup v2 guest test (issue 16): a cgroup whose memory.high is below its working set. The kernel
// throttles it and reclaims from it at memory.high (never OOM-killing: memory.max, 4x higher, is
// never reached); the pages it needs again come back from swap: refaults. memlens must show the
// limits as written, `high` events rising, workingset_refault_anon and pgmajfault rising, each
// counter between the kernel's own readings taken right before and right after the scrape.
//
// The guest runs from RAM (initramfs): no file page can be evicted there, so the working set is
// anonymous memory and the swap a zram device (zsmalloc.ko and zram.ko, packed by build-vm.sh).
// The swap is turned off again after the test, so that the OOM tests after this file see no swap.
// Runs only inside the VM (MEMLENS_IN_VM=1).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startExporter, type Running } from '../../src/main.js';
import { createLogger } from '../../src/log.js';
import { freePort, parseExposition, select, valueOf, type ExpoSample } from '../helpers/exposition.js';
import { cleanupSteps } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/wait.js';
import { CG_ROOT, MiB, exporterConfig, get, keyed, makeCgroup, read, readInt, removeTree, skip, writeCg } from './guest.js';

const CG = { path: '/mlt', dir: `${CG_ROOT}/mlt` };
const HIGH = 48 * MiB;
const MAX = 4 * HIGH; // never reached
const LOW = 8 * MiB;
const MIN = 4 * MiB;
const SWAP_MAX = 256 * MiB;
const WORKING_SET_MIB = 96;
const COMM = 'mlt-thrash';

// Joins the cgroup before it allocates, then touches every page of its buffers over and over.
const THRASH = String.raw`
const fs = require('node:fs');
fs.writeFileSync('/proc/self/comm', process.env.MLT_COMM);
fs.writeFileSync(process.env.MLT_PROCS, String(process.pid));
const bufs = [];
for (let i = 0; i < Number(process.env.MLT_MIB); i++) bufs.push(Buffer.alloc(1 << 20, i & 0xff));
process.stdout.write('ready\n');
for (let pass = 0; ; pass++) for (const b of bufs) for (let o = 0; o < b.length; o += 4096) b[o] = (b[o] + pass) & 0xff;
`;

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.status ?? r.signal} ${r.stderr}`);
}

describe('v2 guest: throttled at memory.high, thrashing through swap, never at memory.max', { skip }, () => {
  let running: Running | undefined;
  let url = '';
  let child: ChildProcess | undefined;
  let swapOn = false;
  const kill = (): void => void child?.kill('SIGKILL');

  before(async () => {
    process.once('exit', kill);
    // A compressed swap in RAM: the only place an anonymous page can be evicted to here.
    if (!existsSync('/sys/block/zram0')) {
      sh('insmod', ['/lib/modules/zsmalloc.ko']);
      sh('insmod', ['/lib/modules/zram.ko']);
    }
    writeCg('/sys/block/zram0', 'disksize', String(384 * MiB));
    sh('mkswap', ['/dev/zram0']);
    sh('swapon', ['/dev/zram0']);
    swapOn = true;

    await removeTree(CG.dir);
    makeCgroup('mlt');
    writeCg(CG.dir, 'memory.max', String(MAX));
    writeCg(CG.dir, 'memory.low', String(LOW));
    writeCg(CG.dir, 'memory.min', String(MIN));
    writeCg(CG.dir, 'memory.swap.max', String(SWAP_MAX));

    const port = await freePort();
    running = await startExporter(exporterConfig(port, ['--process.include', `^${COMM}$`, '--cgroup.include', '^/mlt$', '--watch.enabled=false', '--log.level', 'warn']), createLogger('warn'));
    url = `http://127.0.0.1:${port}/metrics`;

    const c = spawn(process.execPath, ['-e', THRASH], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MLT_COMM: COMM, MLT_PROCS: `${CG.dir}/cgroup.procs`, MLT_MIB: String(WORKING_SET_MIB) },
    });
    child = c;
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor('the thrasher to have its working set', () => (/^ready$/m.test(out) ? true : c.exitCode !== null ? assert.fail(`thrasher exited: ${out}`) : undefined), 120_000);
    // Only now below the working set: filling it under the limit would be throttled all the way
    // (minutes under TCG). The write reclaims down to the new limit at once (cgroup-v2.rst, memory.high).
    writeCg(CG.dir, 'memory.high', String(HIGH));
  });

  after(async () => {
    const { errors, attempt } = cleanupSteps();
    await attempt(() => running?.close());
    await attempt(async () => {
      const c = child;
      if (c !== undefined && c.exitCode === null && c.signalCode === null) {
        const gone = new Promise((resolve) => c.once('exit', resolve));
        c.kill('SIGKILL');
        await gone;
      }
    });
    await attempt(() => removeTree(CG.dir));
    await attempt(() => {
      if (swapOn) sh('swapoff', ['/dev/zram0']);
    });
    process.removeListener('exit', kill);
    if (errors.length > 0) throw new AggregateError(errors, 'thrash test cleanup failed');
  });

  interface Reading { stat: Map<string, number>; events: Map<string, number> }
  const readKernel = (): Reading => ({ stat: keyed(read(`${CG.dir}/memory.stat`)), events: keyed(read(`${CG.dir}/memory.events`)) });
  const measure = async (): Promise<{ s: ExpoSample[]; before: Reading; after: Reading }> => {
    const b = readKernel();
    const res = await get(url);
    const a = readKernel();
    assert.equal(res.status, 200, res.body.slice(0, 300));
    return { s: parseExposition(res.body), before: b, after: a };
  };
  const l = { cgroup: CG.path };
  const item = (s: ExpoSample[], i: string): number => valueOf(s, 'memlens_cgroup_memory_stat_events_total', { ...l, item: i });
  const event = (s: ExpoSample[], e: string): number => valueOf(s, 'memlens_cgroup_memory_events_total', { ...l, event: e });
  const between = (t: TestContext, what: string, v: number, lo: number, hi: number): void => {
    t.diagnostic(`${what}: kernel ${lo} .. memlens ${v} .. kernel ${hi}`);
    assert.ok(v >= lo && v <= hi, `${what}: memlens ${v}, the kernel ${lo} before and ${hi} after the scrape`);
  };

  test('the limits as written: max, high, low, min, swap.max', async () => {
    const { s } = await measure();
    assert.equal(readInt(`${CG.dir}/memory.high`), HIGH);
    assert.equal(valueOf(s, 'memlens_cgroup_memory_limit_bytes', l), MAX);
    assert.equal(valueOf(s, 'memlens_cgroup_memory_high_bytes', l), HIGH);
    assert.equal(valueOf(s, 'memlens_cgroup_memory_low_bytes', l), LOW);
    assert.equal(valueOf(s, 'memlens_cgroup_memory_min_bytes', l), MIN);
    assert.equal(valueOf(s, 'memlens_cgroup_memory_swap_limit_bytes', l), SWAP_MAX);
    assert.deepEqual(select(s, 'memlens_cgroup_memory_soft_limit_bytes', l), []); // v1 only
  });

  test('high events, refaults and major faults rise; each is the kernel\'s count at the scrape; max is never reached', async (t) => {
    const m1 = await measure();
    between(t, 'high events', event(m1.s, 'high'), m1.before.events.get('high')!, m1.after.events.get('high')!);
    between(t, 'workingset_refault_anon', item(m1.s, 'workingset_refault_anon'), m1.before.stat.get('workingset_refault_anon')!, m1.after.stat.get('workingset_refault_anon')!);
    between(t, 'pgmajfault', item(m1.s, 'pgmajfault'), m1.before.stat.get('pgmajfault')!, m1.after.stat.get('pgmajfault')!);
    const m2 = await waitFor('high events, refaults and major faults to rise', async () => {
      const m = await measure();
      const rising = event(m.s, 'high') > event(m1.s, 'high') && item(m.s, 'workingset_refault_anon') > item(m1.s, 'workingset_refault_anon') + 100 &&
        item(m.s, 'pgmajfault') > item(m1.s, 'pgmajfault');
      return rising ? m : undefined;
    }, 120_000);
    between(t, 'high events (2nd)', event(m2.s, 'high'), m2.before.events.get('high')!, m2.after.events.get('high')!);
    between(t, 'workingset_refault_anon (2nd)', item(m2.s, 'workingset_refault_anon'), m2.before.stat.get('workingset_refault_anon')!, m2.after.stat.get('workingset_refault_anon')!);
    t.diagnostic(`rise: high ${event(m1.s, 'high')} -> ${event(m2.s, 'high')}, refault_anon ${item(m1.s, 'workingset_refault_anon')} -> ${item(m2.s, 'workingset_refault_anon')}, pgmajfault ${item(m1.s, 'pgmajfault')} -> ${item(m2.s, 'pgmajfault')}`);
    // Its own major faults too (swap-ins are major faults).
    const pid = String(child!.pid);
    assert.ok(valueOf(m2.s, 'memlens_process_major_page_faults_total', { pid, comm: COMM }) > 0, 'process major faults');
    // Throttled, not killed: memory.max never reached.
    const events = keyed(read(`${CG.dir}/memory.events`));
    t.diagnostic(`memory.events: ${JSON.stringify(Object.fromEntries(events))}; memory.peak ${read(`${CG.dir}/memory.peak`).trim()}`);
    assert.equal(events.get('max'), 0);
    assert.equal(events.get('oom_kill'), 0);
    assert.equal(event(m2.s, 'max'), 0);
    assert.ok(readInt(`${CG.dir}/memory.peak`) < MAX, 'peak below memory.max');
    assert.equal(child!.exitCode, null, 'the thrasher still runs');
  });
});
