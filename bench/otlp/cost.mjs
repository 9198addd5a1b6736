// What one OTLP export costs the exporter's event loop, beside what a collection costs: memlens on
// this host (built project), the receiver (@elastic/mockotlpserver) in a separate process so that
// its decoding is not counted. --collect.min-interval 10m: after one collection, each flush()
// translates and sends the same snapshot, so its CPU time is the push cost alone.
// Usage: npx tsc -p . && node bench/otlp/cost.mjs [repetitions]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../../build/src/config/load.js';
import { startExporter } from '../../build/src/main.js';
import { createLogger } from '../../build/src/log.js';
import { freePort } from '../../build/test/helpers/exposition.js';

const reps = Number(process.argv[2] ?? 5);
const ms = (us) => (us / 1000).toFixed(1);

async function receiver(port) {
  const code = `const { MockOtlpServer } = require('@elastic/mockotlpserver');
    new MockOtlpServer({ services: ['http'], httpHostname: '127.0.0.1', httpPort: ${port}, logLevel: 'error', onMetrics: () => {} }).start().then(() => console.log('up'));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  return child;
}

const rport = await freePort();
const rx = await receiver(rport);
const dir = mkdtempSync(join(tmpdir(), 'memlens-i10-bench-'));
try {
  for (const protocol of ['http/json', 'http/protobuf']) {
    const port = await freePort();
    const parsed = loadConfig(['--web.listen-address', `127.0.0.1:${port}`, '--snapshot.dir', dir, '--collect.min-interval', '10m', '--collect.timeout', '60s', '--otlp.endpoint', `http://127.0.0.1:${rport}`],
      { OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_METRIC_EXPORT_INTERVAL: '3600000', OTEL_LOGS_EXPORTER: 'none' });
    const running = await startExporter(parsed.config, createLogger('silent'));
    let c0 = process.cpuUsage();
    let t0 = performance.now();
    const snap = await running.runner.collect();
    const collectCpu = process.cpuUsage(c0);
    const collectWall = performance.now() - t0;
    c0 = process.cpuUsage();
    t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    const body = await res.text();
    const renderCpu = process.cpuUsage(c0);
    const cpu = [];
    const wall = [];
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    for (let i = 0; i < reps; i++) {
      c0 = process.cpuUsage();
      t0 = performance.now();
      await running.otlp.metrics.flush();
      const d = process.cpuUsage(c0);
      cpu.push(d.user + d.system);
      wall.push(performance.now() - t0);
    }
    h.disable();
    cpu.sort((a, b) => a - b);
    wall.sort((a, b) => a - b);
    console.log(JSON.stringify({
      protocol, series: snap.samples.length, expositionBytes: body.length,
      collectionCpuMs: ms(collectCpu.user + collectCpu.system), collectionWallMs: collectWall.toFixed(1), firstRenderCpuMs: ms(renderCpu.user + renderCpu.system),
      exportCpuMsMedian: ms(cpu[Math.floor(cpu.length / 2)]), exportCpuMsMax: ms(cpu[cpu.length - 1]), exportWallMsMedian: wall[Math.floor(wall.length / 2)].toFixed(1),
      eventLoopDelayMaxMs: (h.max / 1e6).toFixed(1), exports: Object.fromEntries(running.otlp.metrics.samples().map((x) => [x.labels.result, x.value])),
    }));
    await running.close();
  }
} finally {
  rx.kill();
  rmSync(dir, { recursive: true, force: true });
}
