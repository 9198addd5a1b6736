import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { HostCollector } from '../../../src/collectors/host.js';
import { hostOf, scratchTree, treeRoot, value } from './trees.js';

test('host collector, v1 tree: meminfo in bytes, vmstat oom_kill, PSI totals in seconds', async () => {
  const r = await new HostCollector().collect(hostOf(treeRoot('v1')));
  assert.deepEqual(r.problems, []);
  assert.equal(value(r.samples, 'memlens_host_memory_total_bytes'), 25276514304);
  assert.equal(value(r.samples, 'memlens_host_memory_available_bytes'), 24324516 * 1024);
  assert.equal(value(r.samples, 'memlens_host_memory_swap_total_bytes'), 0);
  assert.equal(value(r.samples, 'memlens_host_memory_swap_free_bytes'), 0);
  assert.equal(value(r.samples, 'memlens_host_oom_kills_total'), 1);
  assert.equal(value(r.samples, 'memlens_host_memory_pressure_seconds_total', { kind: 'some' }), 0.085623);
  assert.equal(value(r.samples, 'memlens_host_memory_pressure_seconds_total', { kind: 'full' }), 0.085111);
  assert.equal(r.samples.length, 7);
});

test('host collector, v2 tree', async () => {
  const r = await new HostCollector().collect(hostOf(treeRoot('v2')));
  assert.deepEqual(r.problems, []);
  assert.equal(value(r.samples, 'memlens_host_memory_total_bytes'), 131981020 * 1024);
  assert.equal(value(r.samples, 'memlens_host_memory_available_bytes'), 131472348 * 1024);
  assert.equal(value(r.samples, 'memlens_host_oom_kills_total'), 0);
  assert.equal(value(r.samples, 'memlens_host_memory_pressure_seconds_total', { kind: 'some' }), 0);
});

test('host collector: no vmstat, no PSI (old kernel, CONFIG_PSI=n): no samples for them, no failure', async () => {
  const t = scratchTree('v1');
  try {
    rmSync(`${t.root}/proc/vmstat`);
    rmSync(`${t.root}/proc/pressure`, { recursive: true });
    const r = await new HostCollector().collect(hostOf(t.root));
    assert.deepEqual(r.problems, []);
    assert.equal(value(r.samples, 'memlens_host_oom_kills_total'), undefined);
    assert.equal(value(r.samples, 'memlens_host_memory_pressure_seconds_total', { kind: 'some' }), undefined);
    assert.equal(value(r.samples, 'memlens_host_memory_total_bytes'), 25276514304);
  } finally {
    t.dispose();
  }
});

test('host collector: an unreadable PSI file is a problem, the rest is collected', async () => {
  const t = scratchTree('v1');
  try {
    rmSync(`${t.root}/proc/pressure/memory`);
    mkdirSync(`${t.root}/proc/pressure/memory`); // reading it fails with EISDIR
    const r = await new HostCollector().collect(hostOf(t.root));
    assert.deepEqual(r.problems.map((p) => [p.reason, p.path]), [['psi_unavailable', `${t.root}/proc/pressure/memory`]]);
    assert.equal(value(r.samples, 'memlens_host_oom_kills_total'), 1);
  } finally {
    t.dispose();
  }
});

test('host collector: without /proc/meminfo the area fails', async () => {
  const t = scratchTree('v1');
  try {
    rmSync(`${t.root}/proc/meminfo`);
    const col = new HostCollector();
    await assert.rejects(async () => col.collect(hostOf(t.root)), /ENOENT/);
  } finally {
    t.dispose();
  }
});

test('host collector: failure is a rejected promise, not a synchronous throw (Collector contract)', () => {
  const t = scratchTree('v1');
  try {
    rmSync(`${t.root}/proc/meminfo`);
    let p: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      p = new HostCollector().collect(hostOf(t.root));
    });
    return assert.rejects(p ?? Promise.resolve(), /ENOENT/);
  } finally {
    t.dispose();
  }
});
