// The layers of src/ (.dependency-cruiser.cjs) checked by dependency-cruiser on every npm test, and a
// check that the rules bite: a copy of src/ with one planted back-import must fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './collectors/trees.js';

const depcruise = join(repoRoot, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

function cruise(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [depcruise, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('layers: src/ imports only downward, without cycles (dependency-cruiser)', () => {
  const r = cruise(repoRoot);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /no dependency violations found/);
});

test('layers: a planted back-import (config -> http) and a planted cycle fail the check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-layers-'));
  try {
    cpSync(join(repoRoot, 'src'), join(dir, 'src'), { recursive: true });
    cpSync(join(repoRoot, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
    cpSync(join(repoRoot, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    assert.equal(cruise(dir).status, 0, 'the copy passes before the plant');
    appendFileSync(join(dir, 'src', 'config', 'units.ts'), "\nimport '../http/server.js';\n");
    appendFileSync(join(dir, 'src', 'procfs', 'common.ts'), "\nimport '../procfs/status.js';\n");
    const r = cruise(dir);
    assert.notEqual(r.status, 0, r.out);
    assert.match(r.out, /layer-0-config-imports-upward: src\/config\/units\.ts → src\/http\/server\.ts/);
    assert.match(r.out, /no-cycles: src\/procfs\/common\.ts → /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
