#!/usr/bin/env node
// bench/poll-idle/koffi-pread.mjs: what one pread(2) through koffi costs from Node, alone, in the shape of the idle
// v2 poller (N held files read in one burst every PERIOD ms) and in a tight loop: the floor under memlens's
// per-read cost in bench/poll-idle, beside bench/bin/rawpoll (the same reads from C).
// usage (after `npx tsc -p .`): node bench/poll-idle/koffi-pread.mjs [--files 500] [--period-ms 200] [--seconds 10]
// Makes N small files (a memory.current's worth of digits) in a temporary directory and removes them.
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sys } from '../../build/src/kernel/sys.js';

const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i >= 0 ? Number(process.argv[i + 1]) : d; };
const FILES = arg('files', 500);
const PERIOD_MS = arg('period-ms', 200);
const SECONDS = arg('seconds', 10);
const dir = mkdtempSync(join(tmpdir(), 'memlens-koffi-pread-'));
const fds = [];
try {
  for (let i = 0; i < FILES; i++) {
    writeFileSync(join(dir, `m${i}`), '16106127\n');
    fds.push(openSync(join(dir, `m${i}`), 'r'));
  }
  const buf = Buffer.alloc(64);
  const burst = () => {
    for (const fd of fds) if (sys.pread(fd, buf, buf.length, 0) < 0) throw new Error('pread failed');
  };
  const cpuUs = (f) => { const c0 = process.cpuUsage(); f(); const c = process.cpuUsage(c0); return c.user + c.system; };
  for (let i = 0; i < 50; i++) burst(); // JIT, koffi's call path
  let tight = 0;
  for (let i = 0; i < 200; i++) tight += cpuUs(burst);
  let spread = 0, reads = 0;
  await new Promise((resolve) => {
    const t = setInterval(() => { spread += cpuUs(burst); reads += FILES; }, PERIOD_MS);
    setTimeout(() => { clearInterval(t); resolve(); }, SECONDS * 1000);
  });
  const r = { files: FILES, periodMs: PERIOD_MS, seconds: SECONDS, usPerReadTight: tight / (200 * FILES), usPerReadSpread: spread / reads, readsPerS: (FILES * 1000) / PERIOD_MS };
  r.cpuPctAtThatRate = (r.usPerReadSpread * r.readsPerS) / 1e4;
  console.log(JSON.stringify(r));
} finally {
  for (const fd of fds) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
}
