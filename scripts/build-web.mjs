// The page's static bundle: web/ (Preact views, uPlot chart, CSS) -> build/web/{index.html,app.js,app.css}.
// Type-checked with web/tsconfig.json (DOM types), bundled and minified by esbuild; nothing is
// fetched from a CDN at run time (the node serving it may have no internet).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'web/tsconfig.json'], { stdio: 'inherit' });
mkdirSync('build/web', { recursive: true });
await build({
  entryPoints: ['web/app.tsx'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outfile: 'build/web/app.js',
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync('web/index.html', 'build/web/index.html');
