// Preloaded into a memlens under measurement by bench/memprofile.sh (node --import), never by memlens
// itself: samples process.memoryUsage() and V8's heap spaces every MEMPROBE_INTERVAL_MS (default
// 10 ms) and, on SIGUSR2, appends one JSON line to MEMPROBE_OUT with the current figures and the
// highest of each since the previous line (so a line taken after a scrape carries that scrape's peak),
// and the main thread's GC pauses (count, ms) since the previous line.
import { appendFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { Session } from 'node:inspector';

const out = process.env.MEMPROBE_OUT;
if (out !== undefined && out !== '') {
  const intervalMs = Number(process.env.MEMPROBE_INTERVAL_MS ?? '10');
  const read = () => {
    const m = process.memoryUsage();
    const spaces = {};
    for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = s.space_used_size;
    return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, ...spaces };
  };
  let peak = read();
  const sample = () => {
    const now = read();
    for (const k of Object.keys(now)) if (now[k] > (peak[k] ?? 0)) peak[k] = now[k];
    return now;
  };
  setInterval(sample, intervalMs).unref();
  // Main-thread GC pauses since the previous line: scavenges (minor) and mark-compacts (major, incremental steps included).
  let gc = { minorCount: 0, minorMs: 0, majorCount: 0, majorMs: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = e.detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        gc.minorCount++;
        gc.minorMs += e.duration;
      } else {
        gc.majorCount++;
        gc.majorMs += e.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  // MEMPROBE_ALLOC=FILE: V8's sampling heap profiler over every allocation, garbage included; each
  // SIGUSR2 writes what was allocated since the previous one to FILE.<n>.json, summed by function.
  const allocOut = process.env.MEMPROBE_ALLOC;
  let allocN = 0;
  const session = allocOut === undefined || allocOut === '' ? undefined : new Session();
  const startSampling = () =>
    session?.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  if (session !== undefined) {
    session.connect();
    session.post('HeapProfiler.enable', () => startSampling());
  }
  const dumpAlloc = () =>
    session?.post('HeapProfiler.stopSampling', (err, res) => {
      if (err !== null) return;
      const by = new Map();
      const walk = (node, stack) => {
        const f = node.callFrame;
        const here = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(build|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
        if (node.selfSize > 0) {
          const key = `${here} <- ${stack.slice(-2).reverse().join(' <- ')}`;
          by.set(key, (by.get(key) ?? 0) + node.selfSize);
        }
        for (const c of node.children) walk(c, [...stack, here]);
      };
      walk(res.profile.head, []);
      const rows = [...by].sort((a, b) => b[1] - a[1]).map(([k, v]) => ({ bytes: v, site: k }));
      appendFileSync(`${allocOut}.${allocN++}.json`, JSON.stringify(rows.slice(0, 200), null, 1));
      startSampling();
    });
  process.on('SIGUSR2', () => {
    dumpAlloc();
    const now = sample();
    appendFileSync(out, `${JSON.stringify({ tMs: Date.now(), now, peak, gc })}\n`);
    peak = now;
    gc = { minorCount: 0, minorMs: 0, majorCount: 0, majorMs: 0 };
  });
}
