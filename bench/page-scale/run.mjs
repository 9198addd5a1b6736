// bench/page-scale: what the page costs with many cgroups. Creates N limited v1 cgroups under this
// process's own memory cgroup (removed at the end), starts memlens through its bin (as users do)
// on the whole host, then measures: the /api/v1/cgroups response (bytes, and server time over 20
// requests answered from the last collection), and in Debian's chromium the time from navigation
// to the first 200 rows drawn and to all rows drawn ("show all"), the requests per refresh and
// the page's JS heap. Needs root, cgroup v1, chromium, a built tree (npm run build).
// Usage: node bench/page-scale/run.mjs [N=1000] [PORT=21390] (N is added to the host's own cgroups)
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const N = Number(process.argv[2] ?? 1000);
const PORT = Number(process.argv[3] ?? 21390);
const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[1]?.split(',').includes('memory'))?.[2] ?? '/';
const parent = join('/sys/fs/cgroup/memory', own, `memlens-i13-${process.pid}-bench`);
mkdirSync(parent);
const dirs = [];
for (let i = 0; i < N; i++) {
  const d = join(parent, `c${i}`);
  mkdirSync(d);
  writeFileSync(join(d, 'memory.limit_in_bytes'), String((64 + (i % 64)) << 20));
  dirs.push(d);
}
const base = `http://127.0.0.1:${PORT}`;
// --collect.timeout 60s: on a busy shared host a walk of thousands of cgroups can pass the 10 s default.
const ml = spawn(process.execPath, ['--max-semi-space-size=1', 'bin/memlens.js', '--web.listen-address', `127.0.0.1:${PORT}`, '--snapshot.dir', `/tmp/memlens-i13-bench-${process.pid}`, '--log.level', 'error', '--collect.timeout', '60s'], { stdio: ['ignore', 'ignore', 'inherit'] });
const out = {};
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      if (i > 200) throw new Error('memlens did not start');
      await sleep(100);
    }
  }
  // Three scrapes first (what Prometheus does): memlens's memory without the page.
  const rss = () => {
    const st = readFileSync(`/proc/${ml.pid}/status`, 'utf8');
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? 0) / 1024);
  };
  for (let i = 0; i < 3; i++) await (await fetch(`${base}/metrics`)).text();
  out.memlensRssAfterScrapesMiB = rss();
  // Then the page's API, answered from that collection.
  let t0 = performance.now();
  const first = await (await fetch(`${base}/api/v1/cgroups`)).text();
  out.firstRequestWithCollectionMs = Math.round(performance.now() - t0);
  out.cgroups = JSON.parse(first).total;
  out.responseBytes = first.length;
  const times = [];
  for (let i = 0; i < 20; i++) {
    t0 = performance.now();
    await (await fetch(`${base}/api/v1/cgroups`)).text();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  out.fromRingMedianMs = Math.round(times[10] * 10) / 10;
  out.fromRingMaxMs = Math.round(times[19] * 10) / 10;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const reqs = [];
  page.on('request', (r) => reqs.push(new URL(r.url()).pathname));
  t0 = performance.now();
  await page.goto(`${base}/`);
  await page.locator('[data-testid=cgroup-row]').nth(199).waitFor();
  out.first200RowsMs = Math.round(performance.now() - t0);
  // Drawing every row, timed inside the page (click to all rows in the DOM).
  out.allRowsMs = Math.round(await page.evaluate(async (n) => {
    const t = performance.now();
    [...document.querySelectorAll('button')].find((b) => b.textContent?.startsWith('show all'))?.click();
    while (document.querySelectorAll('[data-testid=cgroup-row]').length < n) await new Promise((r) => setTimeout(r, 5));
    return performance.now() - t;
  }, out.cgroups));
  await page.waitForResponse((r) => r.url().endsWith('/api/v1/cgroups'));
  await page.waitForTimeout(300);
  reqs.length = 0;
  await page.waitForResponse((r) => r.url().endsWith('/api/v1/cgroups'));
  await page.waitForTimeout(300);
  out.requestsPerRefresh = reqs.length;
  out.jsHeapMiB = Math.round(((await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0)) / 2 ** 20) * 10) / 10;
  await browser.close();
  const status = readFileSync(`/proc/${ml.pid}/status`, 'utf8');
  out.memlensRssAfterPageMiB = rss();
  out.memlensHwmMiB = Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  console.log(`RESULT ${JSON.stringify(out)}`);
} finally {
  ml.kill('SIGTERM');
  await new Promise((r) => ml.once('exit', r));
  for (const d of dirs) rmdirSync(d);
  rmdirSync(parent);
}
