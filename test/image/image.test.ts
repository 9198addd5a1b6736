// The container image, for real (not in the default `npm test`: it builds an image, about 2-4 min;
// .ci/run runs it with MEMLENS_IMAGE_TEST=1 after the suite). Podman, daemonless, with runc:
// the Dockerfile is built against a base made from this host's node (test/image/make-base.sh,
// no registry needed), then run as the README says: the host's /proc and /sys at /host,
// --network=host, a soft open-file limit of 1024 (containerd 2's default). It must serve
// /metrics with the host's cgroups and processes, pass its HEALTHCHECK, and stop on SIGTERM with
// exit 0 in under 5 s.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { tmpdir, homedir } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseExposition, select, freePort } from '../helpers/exposition.js';
import { skipOrFail } from '../helpers/capability.js';
import { waitFor } from '../helpers/wait.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const tag = `i12-${process.pid}`;
const BASE = `localhost/memlens-test-base:${tag}`;
const IMAGE = `localhost/memlens-test:${tag}`;
const NAME = `memlens-test-${tag}`;

const conf = mkdtempSync(`${tmpdir()}/memlens-podman-`);
// runc: crun refuses this hybrid cgroup host. nofile: soft 1024 under the host's hard limit, as
// container runtimes set it (containerd 2: 1024:524288); Node raises its soft limit to the hard one
// at start (node.cc), which the test checks. nproc: podman's default is above this host's hard
// limit and it has no CAP_SYS_RESOURCE to raise it.
const hardNofile = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
writeFileSync(`${conf}/containers.conf`, [
  '[engine]', 'runtime = "runc"', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"',
  '[containers]', `default_ulimits = ["nofile=1024:${hardNofile}", "nproc=4096:4096"]`, '',
].join('\n'));
const env = { ...process.env, CONTAINERS_CONF: `${conf}/containers.conf` };

function podman(args: string[], timeoutMs = 600_000): SpawnSyncReturns<string> {
  return spawnSync('podman', args, { encoding: 'utf8', env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.error, undefined, `${what}: ${r.error?.message ?? ''}`);
  assert.equal(r.status, 0, `${what} failed (${r.status}): ${r.stderr.slice(-3000)}`);
  return r.stdout;
}

const missing = spawnSync('podman', ['--version']).status === 0 ? (process.getuid?.() === 0 ? undefined : 'not root') : 'no podman';

test('image: built from the Dockerfile on a local base, run with the host at /host, serves the host\'s cgroups and processes; SIGTERM stops it with 0 in < 5 s', { skip: skipOrFail(missing), timeout: 900_000 }, async (t: TestContext) => {
  let containerId: string | undefined;
  // podman's own cgroups (libpod_parent, libpod_parent/conmon) that this test makes on a machine without them.
  const podmanParents = (): string[] => readdirSync('/sys/fs/cgroup').flatMap((ctrl) =>
    [`/sys/fs/cgroup/${ctrl}/libpod_parent/conmon`, `/sys/fs/cgroup/${ctrl}/libpod_parent`].filter((d) => existsSync(d)));
  const parentsBefore = new Set(podmanParents());
  try {
    ok(spawnSync(`${repo}test/image/make-base.sh`, [BASE], { encoding: 'utf8', env }), 'make-base.sh');
    // The host's npm cache, when there is one, spares the build the downloads.
    const cache = `${homedir()}/.npm`;
    const t0 = Date.now();
    ok(podman(['build', '--format', 'docker', '--network=host', ...(existsSync(cache) ? ['-v', `${cache}:/root/.npm`] : []),
      '--build-arg', `BASE=${BASE}`, '--build-arg', 'REVISION=test', '-t', IMAGE, repo]), 'podman build');
    t.diagnostic(`podman build: ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    const inspect = JSON.parse(ok(podman(['image', 'inspect', IMAGE]), 'inspect')) as { Config: { Labels: Record<string, string>; User?: string; Entrypoint: string[]; Env: string[] }; Healthcheck?: { Test: string[] } }[];
    const cfg = inspect[0]!.Config;
    for (const l of ['title', 'description', 'licenses', 'version', 'revision', 'source']) assert.ok(cfg.Labels[`org.opencontainers.image.${l}`], `OCI label ${l}`);
    assert.equal(cfg.Labels['org.opencontainers.image.revision'], 'test');
    assert.equal(cfg.User, 'root');
    assert.deepEqual(cfg.Entrypoint, ['node', '--max-semi-space-size=1', '--heap-growing-percent=20', '--no-memory-reducer', 'bin/memlens.js']);
    assert.deepEqual(inspect[0]!.Healthcheck?.Test, ['CMD', 'node', 'bin/healthcheck.js']);
    // Production dependencies only in the final stage.
    const devDeps = ok(podman(['run', '--rm', '--network=none', '--entrypoint', 'node', IMAGE, '-e', 'const fs=require("fs");console.log(["typescript","fast-check","@types/node"].filter(p=>fs.existsSync("node_modules/"+p)).join(","))']), 'list dev deps');
    assert.equal(devDeps.trim(), '', 'no dev dependency in the image');

    const port = await freePort();
    containerId = ok(podman(['run', '-d', '--name', NAME, '--network=host', '--pid=host', '--privileged',
      '-v', '/proc:/host/proc:ro', '-v', '/sys:/host/sys', '-v', '/dev/kmsg:/host/dev/kmsg:ro',
      '--tmpfs', '/var/lib/memlens', '-e', `MEMLENS_WEB_LISTEN_ADDRESS=127.0.0.1:${port}`, IMAGE]), 'podman run').trim();
    const pid = Number(ok(podman(['inspect', '-f', '{{.State.Pid}}', NAME]), 'inspect pid').trim());
    // The container's own first process gets the configured limit (a shell, which keeps it).
    const shLimits = ok(podman(['run', '--rm', '--network=none', '--entrypoint', '/bin/sh', IMAGE, '-c', 'cat /proc/self/limits']), 'limits in a container');
    assert.match(shLimits, new RegExp(`^Max open files\\s+1024\\s+${hardNofile}\\s`, 'm'), 'containers start with a soft open-file limit of 1024');
    const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
    assert.match(limits, new RegExp(`^Max open files\\s+${hardNofile}\\s+${hardNofile}\\s`, 'm'), 'memlens runs with its soft limit raised to the hard one');
    t.diagnostic(`memlens in the container: ${/^Max open files.*$/m.exec(limits)?.[0] ?? ''}`);

    const samples = await waitFor('/metrics with cgroup and process series of the host', async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/metrics`);
        if (!r.ok) return undefined;
        const s = parseExposition(await r.text());
        return select(s, 'memlens_cgroup_memory_usage_bytes').length > 0 && select(s, 'memlens_process_resident_bytes').length > 0 ? s : undefined;
      } catch {
        return undefined;
      }
    }, 60_000);
    // Series of the host, not of the container: our own cgroup and a host pid are there.
    const ownCgroup = /^\d+:[^:]*\bmemory\b[^:]*:(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    assert.ok(ownCgroup !== undefined);
    assert.ok(select(samples, 'memlens_cgroup_memory_usage_bytes', { cgroup: ownCgroup }).length === 1, `the host cgroup ${ownCgroup} is exported`);
    const hostPids = new Set(readdirSync('/proc').filter((d) => /^\d+$/.test(d)));
    const procPids = select(samples, 'memlens_process_resident_bytes').map((s) => s.labels['pid']!);
    assert.ok(procPids.some((p) => hostPids.has(p) && p !== String(pid)), 'per-process series name host pids');
    // Every host process with memory (kernel threads have none) is in a group: counted by the test
    // from the host's /proc just before and just after one scrape (processes may come and go between).
    const withMemory = (): number => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
      try {
        return /^VmRSS:/m.test(readFileSync(`/proc/${d}/status`, 'utf8'));
      } catch {
        return false; // exited between listing and reading
      }
    }).length;
    const before = withMemory();
    const again = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const after = withMemory();
    const grouped = select(again, 'memlens_process_group_processes').reduce((a, s) => a + s.value, 0);
    t.diagnostic(`host processes with memory: ${before} before, ${after} after the scrape; grouped by memlens: ${grouped}`);
    assert.ok(grouped >= Math.min(before, after) - 2 && grouped <= Math.max(before, after) + 2, `the whole host's processes are grouped (${grouped} vs ${before}..${after})`);
    for (const col of ['process', 'cgroup', 'host', 'oom']) assert.equal(select(samples, 'memlens_collector_success', { collector: col })[0]?.value, 1, `collector ${col}`);
    t.diagnostic(`fds open in memlens: ${readdirSync(`/proc/${pid}/fd`).length}`);
    // The page at / is in the image (build/web, built in the build stage).
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200, 'the page at / is served');
    assert.match(await page.text(), /<script[^>]+app\.js/, 'the page loads its bundle');
    const bundle = await fetch(`http://127.0.0.1:${port}/app.js`);
    assert.equal(bundle.status, 200, 'the page\'s bundle is in the image');

    // `podman healthcheck run` is an exec into the container: seconds on a starved host, so retried.
    await waitFor('the HEALTHCHECK to pass', () => (podman(['healthcheck', 'run', NAME], 60_000).status === 0 ? true : undefined), 120_000);

    const stopStart = Date.now();
    ok(podman(['kill', '--signal', 'TERM', NAME]), 'SIGTERM');
    const code = ok(podman(['wait', NAME], 30_000), 'wait').trim();
    const stopMs = Date.now() - stopStart;
    t.diagnostic(`SIGTERM to exit: ${stopMs} ms, exit code ${code}`);
    assert.equal(code, '0', 'exit 0 on SIGTERM');
    assert.ok(stopMs < 5000, `stopped in ${stopMs} ms`);
  } finally {
    podman(['rm', '-f', '-t', '1', NAME], 60_000);
    podman(['rmi', '-f', IMAGE, BASE], 60_000);
    podman(['image', 'prune', '-f'], 60_000); // the build stage's dangling layers
    // podman (cgroupfs manager) leaves libpod_parent/libpod-<id> cgroups behind: remove ours.
    if (containerId !== undefined) {
      for (const ctrl of readdirSync('/sys/fs/cgroup')) {
        const parent = `/sys/fs/cgroup/${ctrl}/libpod_parent`;
        if (!existsSync(parent)) continue;
        for (const d of readdirSync(parent)) {
          if (d.includes(containerId)) {
            try {
              rmdirSync(`${parent}/${d}`);
            } catch {
              // busy (a process still in it) or already gone
            }
          }
        }
      }
    }
    // Then podman's parents, when this test made them (children first; a busy or non-empty one stays).
    for (const d of podmanParents()) {
      if (parentsBefore.has(d)) continue;
      try {
        rmdirSync(d);
      } catch {
        // in use by another container, or already gone
      }
    }
    rmSync(conf, { recursive: true, force: true });
  }
});
