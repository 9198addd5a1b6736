// The Dockerfile through both npm Dockerfile linters (they catch different things; neither sets
// an exit code, so their findings are read here), and what the issue asks of it: multi-stage,
// ARG BASE defaulting to an official Node LTS slim image, a HEALTHCHECK on /healthz, OCI labels,
// root with the reason given. The image itself is built and run by test/image/image.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { validate } from 'dockerfile-utils';
import { repoRoot } from './collectors/trees.js';

const require = createRequire(import.meta.url);
const dockerfilelint = require('dockerfilelint') as { run: (configDir: string, content: string) => { title: string; line: number; rule: string }[] };
const text = readFileSync(`${repoRoot}Dockerfile`, 'utf8');
const BAD = 'FROM ubuntu\nMAINTAINER someone\nRUN apt-get install curl\nEXPOSE 99999\nHEALTHCHECK --start-period=1s CMD true\n';

test('dockerfilelint: no findings (with .dockerfilelintrc), and it does find faults in a bad Dockerfile', () => {
  assert.deepEqual(dockerfilelint.run(repoRoot, text), []);
  assert.ok(dockerfilelint.run(repoRoot, BAD).length >= 3);
});

test('dockerfile-utils lint: no findings, and it does find faults in a bad Dockerfile', () => {
  assert.deepEqual(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`), []);
  assert.ok(validate(BAD).length >= 1);
});

test('Dockerfile: multi-stage, ARG BASE an official Node LTS slim image, HEALTHCHECK on /healthz, OCI labels, root with its reason, SIGTERM', () => {
  const base = /^ARG BASE=(\S+)$/m.exec(text)?.[1];
  assert.match(base ?? '', /^node:(20|22|24)-[a-z]+-slim$/, 'official Node LTS slim image by default');
  const froms = [...text.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)];
  assert.equal(froms.length, 2, 'a build stage and a run stage');
  assert.ok(froms.every((f) => f[1] === '${BASE}'), 'both stages on ${BASE}');
  assert.match(text, /npm ci\b/);
  assert.match(text, /npm prune --omit=dev/, 'the run stage gets production dependencies only');
  assert.match(text, /^HEALTHCHECK .*CMD \["node", "bin\/healthcheck\.js"\]$/m);
  assert.match(readFileSync(`${repoRoot}bin/healthcheck.js`, 'utf8'), /\/healthz/);
  for (const l of ['title', 'description', 'licenses', 'version', 'revision', 'created', 'source']) assert.match(text, new RegExp(`org\\.opencontainers\\.image\\.${l}=`), `label ${l}`);
  assert.match(text, /^USER root$/m);
  assert.match(text, /# Root, on purpose: .*CAP_SYS_PTRACE[\s\S]*CAP_DAC_READ_SEARCH[\s\S]*CAP_SYSLOG/, 'the reason for root, capability by capability');
  assert.match(text, /^STOPSIGNAL SIGTERM$/m);
  assert.match(text, /^ENTRYPOINT \["node", "--max-semi-space-size=1", "--heap-growing-percent=20", "--no-memory-reducer", "bin\/memlens\.js"\]$/m, 'node is PID 1 (no shell in between to swallow SIGTERM)');
  for (const e of ['MEMLENS_PATH_PROCFS=/host/proc', 'MEMLENS_PATH_SYSFS=/host/sys', 'MEMLENS_PATH_KMSG=/host/dev/kmsg']) assert.ok(text.includes(e), e);
});
