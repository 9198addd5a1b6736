// recent-bytes.mjs [CGROUPS] [PROCESSES]: the memory the recent-samples ring (src/forensics/recent.ts)
// holds when full: CGROUPS cgroups (default 2000, its bound) with the v1 memory.stat items and events
// memlens exports by default, and PROCESSES sampled processes (default 1000, its bound), ingested
// 600 times 15 s apart (every series at its 240 points). Prints the V8 heap and ArrayBuffer bytes it
// holds (after a full GC, against the same process before it, warmed up). Needs node --expose-gc; run after `npm run build`.
import * as c from '../build/src/model/catalog.js';
import { RecentSamples } from '../build/src/forensics/recent.js';

const cgroups = Number(process.argv[2] ?? '2000');
const processes = Number(process.argv[3] ?? '1000');
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const STAT = ['anon', 'file', 'shmem', 'file_mapped', 'inactive_file', 'active_file', 'pgfault', 'pgmajfault', 'pgpgin', 'pgpgout'];
const EVENTS = ['max', 'oom_kill'];
const samplesAt = (i) => {
  const out = [];
  for (let k = 0; k < cgroups; k++) {
    const cgroup = `/kubepods.slice/kubepods-burstable.slice/pod-${k}.slice/cri-containerd-${k.toString(16).padStart(64, '0')}.scope`;
    const l = { cgroup };
    out.push({ desc: c.cgroupUsage, labels: l, value: 1e8 + k * 4096 + i * 8192 });
    out.push({ desc: c.cgroupLimit, labels: l, value: 2 ** 30 });
    out.push({ desc: c.cgroupEffectiveLimit, labels: l, value: 2 ** 30 });
    out.push({ desc: c.cgroupWorkingSet, labels: l, value: 9e7 + i });
    out.push({ desc: c.cgroupPeak, labels: l, value: 2e8 });
    out.push({ desc: c.cgroupProcesses, labels: l, value: 3 });
    for (const item of STAT) out.push({ desc: c.cgroupStat, labels: { cgroup, item }, value: 12345678 + i });
    for (const event of EVENTS) out.push({ desc: c.cgroupEvents, labels: { cgroup, event }, value: 0 });
  }
  for (let p = 0; p < processes; p++) {
    const l = { pid: String(10000 + p), comm: `proc${p % 50}`, cgroup: `/kubepods.slice/pod-${p}.slice` };
    for (const d of [c.processResident, c.processResidentAnon, c.processResidentFile, c.processPss, c.processUss, c.processOomScore]) {
      out.push({ desc: d, labels: l, value: 5e7 + p + i });
    }
  }
  return out;
};
const used = () => {
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
{ // warm-up (compiled code, catalog objects), then dropped: not the ring's bytes
  const warm = new RecentSamples();
  for (let i = 0; i < 3; i++) warm.ingest(samplesAt(i), i * 15_000);
}
const before = used();
const ring = new RecentSamples();
const t0 = Date.now();
for (let i = 0; i < 600; i++) ring.ingest(samplesAt(i), t0 + i * 15_000);
const after = used();
console.log(`recent ring, ${cgroups} cgroups + ${processes} processes, full: ${((after - before) / 1048576).toFixed(1)} MiB (heap + ArrayBuffers), ${ring.cgroupSeries(ring.currentCgroupList()[0]?.path ?? '').length} points per series`);
