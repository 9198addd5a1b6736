// `npm start` runs this first: compile when build/ is missing or older than any source file, and
// bundle the page when build/web is missing or older than web/.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
const out = 'build/src/cli.js';
if (!existsSync(out) || statSync(out).mtimeMs < Math.max(newest('src'), statSync('tsconfig.json').mtimeMs)) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
const page = 'build/web/app.js';
if (!existsSync(page) || statSync(page).mtimeMs < newest('web')) {
  execFileSync(process.execPath, ['scripts/build-web.mjs'], { stdio: 'inherit' });
}
