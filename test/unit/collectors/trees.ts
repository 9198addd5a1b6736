// Shared by the collector and golden tests: the fixture trees, scratch copies of them to break on
// purpose, and sample look-ups.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { HostFs } from '../../../src/host/hostFs.js';
import { createLogger, type Logger } from '../../../src/log.js';
import type { Labels, Sample } from '../../../src/model/types.js';

/** The repository root, from build/test/unit/collectors/. */
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export type TreeName = 'v1' | 'v2';

/** Absolute path of a committed fixture tree (test/fixtures/v1 or v2). */
export function treeRoot(name: TreeName): string {
  return `${repoRoot}test/fixtures/${name}`;
}

export function hostOf(root: string): HostFs {
  return new HostFs(`${root}/proc`, `${root}/sys`);
}

/** A scratch copy of a tree, to remove or rewrite files in; removed by dispose(). */
export function scratchTree(name: TreeName): { root: string; dispose: () => void } {
  const root = mkdtempSync(`${tmpdir()}/memlens-${name}-`);
  cpSync(treeRoot(name), root, { recursive: true });
  return { root, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

/** The samples of one metric whose labels include every pair of `labels`. */
export function series(samples: readonly Sample[], prom: string, labels: Labels = {}): Sample[] {
  return samples.filter((s) => s.desc.prom === prom && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of exactly one matching sample, or undefined when there is none (fails on several). */
export function value(samples: readonly Sample[], prom: string, labels: Labels = {}): number | undefined {
  const found = series(samples, prom, labels);
  if (found.length > 1) throw new Error(`${found.length} samples of ${prom} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** A logger that keeps its JSON lines for assertions instead of printing them. */
export function memoryLogger(level = 'debug'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger(level, dest), lines };
}

export const signal = (): AbortSignal => new AbortController().signal;
