// What outlives a collection (issue 15, peak resident memory): the runner keeps its last snapshot
// for --collect.min-interval only, and the Prometheus sink's rendered text lives no longer than the
// snapshot it was rendered from; so neither is still alive while the next collection builds its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Runner } from '../../../src/collectors/runner.js';
import type { Collector } from '../../../src/collectors/collector.js';
import { HostFs } from '../../../src/host/hostFs.js';
import { PrometheusSink } from '../../../src/sinks/prometheus.js';
import { createLogger } from '../../../src/log.js';
import * as c from '../../../src/model/catalog.js';
import type { CollectResult } from '../../../src/model/types.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

class Counting implements Collector {
  readonly name = 'host';
  readonly metrics = [c.hostMemTotal];
  calls = 0;
  collect(): Promise<CollectResult> {
    this.calls++;
    return Promise.resolve({ samples: [{ desc: c.hostMemTotal, labels: {}, value: 1000 + this.calls }], problems: [] });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Collected snapshots, by the call that made them (a FinalizationRegistry, not a WeakRef: deref()
// keeps its target alive for the rest of the job).
const collected = new Set<number>();
const registry = new FinalizationRegistry<number>((n) => collected.add(n));

async function isCollected(n: number): Promise<boolean> {
  gc();
  await sleep(10); // finalization callbacks run in a task of their own
  return collected.has(n);
}

/** Collects and renders once; the snapshot itself stays in this frame. */
async function scrapeOnce(runner: Runner, sink: PrometheusSink, n: number): Promise<void> {
  const snap = await runner.collect();
  assert.match(await sink.render('prometheus', snap), /^memlens_host_memory_total_bytes 100\d$/m);
  registry.register(snap, n);
}

test('within --collect.min-interval callers share the snapshot; after it, neither the runner nor the sink holds it', async () => {
  const col = new Counting();
  const runner = new Runner([col], new HostFs('/proc', '/sys'), { timeoutMs: 1000, minIntervalMs: 300, seriesBudget: 100 }, createLogger('silent'));
  const sink = new PrometheusSink(c.catalog);
  await scrapeOnce(runner, sink, 1);
  assert.equal(await isCollected(1), false, 'kept within the interval');
  await scrapeOnce(runner, sink, 1); // shared: the same snapshot
  assert.equal(col.calls, 1);
  await sleep(400);
  assert.equal(await isCollected(1), true, 'released after the interval');
  // The page's freshness check still knows a collection was made, without the samples.
  await runner.recent(60_000);
  assert.equal(col.calls, 1);
  await runner.recent(0);
  assert.equal(col.calls, 2);
});

test('with --collect.min-interval 0s the snapshot is released as soon as the scrape is done with it', async () => {
  const runner = new Runner([new Counting()], new HostFs('/proc', '/sys'), { timeoutMs: 1000, minIntervalMs: 0, seriesBudget: 100 }, createLogger('silent'));
  await scrapeOnce(runner, new PrometheusSink(c.catalog), 2);
  await sleep(20);
  assert.equal(await isCollected(2), true);
});
