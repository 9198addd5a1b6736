// memlens is started three ways -- bin/memlens.js (its shebang), `npm start`, the container's
// ENTRYPOINT -- and each must give node the same flags and glibc's malloc the same tunables
// (bench/RESULTS.md, "Peak resident memory at 1000 cgroups": without them the peak at 1000
// cgroups was about twice as high). The shebang is the reference; the others must match it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const read = (p: string): string => readFileSync(`${repoRoot}${p}`, 'utf8');

function shebang(): { tunables: string; flags: string[] } {
  const first = read('bin/memlens.js').split('\n')[0]!;
  const m = /^#!\/usr\/bin\/env -S GLIBC_TUNABLES=(\S+) node((?: --\S+)+)$/.exec(first);
  assert.ok(m, `bin/memlens.js shebang: ${first}`);
  assert.ok(Buffer.byteLength(first) < 256, 'Linux reads at most 255 bytes of a #! line');
  return { tunables: m[1]!, flags: m[2]!.trim().split(' ') };
}

test('the shebang sets the heap flags and malloc tunables measured for the memory and CPU targets', () => {
  const { tunables, flags } = shebang();
  assert.deepEqual(flags, ['--max-semi-space-size=1', '--heap-growing-percent=20', '--no-memory-reducer']);
  assert.deepEqual(tunables.split(':').sort(), ['glibc.malloc.arena_max=2', 'glibc.malloc.mmap_threshold=131072', 'glibc.malloc.trim_threshold=131072']);
});

test('npm start and the Dockerfile start node as the shebang does', () => {
  const { tunables, flags } = shebang();
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts['start'];
  assert.equal(start, `GLIBC_TUNABLES=${tunables} node ${flags.join(' ')} bin/memlens.js`);
  const docker = read('Dockerfile');
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(docker);
  assert.ok(entry);
  assert.deepEqual(JSON.parse(entry[1]!), ['node', ...flags, 'bin/memlens.js']);
  assert.match(docker, new RegExp(`^\\s+GLIBC_TUNABLES=${tunables.replace(/\./g, '\\.')}$`, 'm'), 'the ENV instruction');
});

test('this node accepts every flag of the shebang (a V8 flag it does not know would stop it starting)', () => {
  const { flags } = shebang();
  const r = spawnSync(process.execPath, [...flags, '-e', 'process.exit(0)'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
});
