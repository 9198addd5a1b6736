// `npm test`: every compiled test file under build/test, through node's own test runner.
// Kernel tests need root and a writable cgroup v1 memory controller: they skip on a laptop
// without them, and fail under CI=true (see test/helpers/capability.ts).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'build/test';
const files = readdirSync(root, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.js'))
  // test/v2/ runs inside the cgroup v2 VM (test/vm/vm.test.ts boots it), not on the host.
  .filter((f) => process.env.MEMLENS_IN_VM === '1' || !f.startsWith('v2/'))
  // test/image/ builds and runs the container image (minutes): .ci/run runs it with MEMLENS_IMAGE_TEST=1.
  .filter((f) => process.env.MEMLENS_IMAGE_TEST === '1' || !f.startsWith('image/'))
  .filter((f) => process.argv.length <= 2 || process.argv.slice(2).some((a) => f.includes(a)))
  .sort()
  .map((f) => join(root, f));
if (files.length === 0) {
  // node --test with no files would search the whole checkout: never that.
  console.error(`run-tests: no test file under ${root} matches ${process.argv.slice(2).join(' ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
