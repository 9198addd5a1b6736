// --web.config.file against a running memlens (issue 9, row "No auth or TLS option at all"):
// real certificates made with openssl here, real TLS handshakes, bcrypt hashes from bcryptjs.
// Basic auth: no credentials and a wrong password are 401, the right one 200, on every route
// (an unknown one included, so routes added later are covered) but /healthz. TLS: plain HTTP to
// the port gets no HTTP answer, TLS below min_version is refused, a client certificate is
// required when configured (none, or one from another CA, is refused). The file is re-read
// when it changes; a bad file exits 2 naming the file and the key. POST /api/v1/snapshots is
// 403 unless --web.enable-snapshot-api.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { runMemlens, startMemlens, type Running } from '../../helpers/running.js';
import { waitFor } from '../../helpers/wait.js';

const tmp = mkdtempSync(join(tmpdir(), 'memlens-web-'));
const f = (name: string): string => join(tmp, name);
const HASH = bcrypt.hashSync('s3cret', 10);
const HASH2 = bcrypt.hashSync('rotated', 10);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a server certificate for 127.0.0.1 signed by it, a client certificate signed by it, and a rogue client (self-signed). */
function makeCerts(): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=memlens test CA', '-days', '2');
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
  openssl('req', '-x509', ...ec, '-keyout', 'rogue.key', '-out', 'rogue.crt', '-subj', '/CN=rogue', '-days', '2');
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function get(url: string, opts: RequestOptions & { auth?: string; method?: string } = {}): Promise<Answer> {
  const u = new URL(url);
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(u, { ...opts, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    r.setTimeout(60_000, () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end();
  });
}

const basic = (user: string, pass: string): string => `${user}:${pass}`;

before(() => makeCerts());
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('basic auth (plain HTTP)', () => {
  let m: Running;
  const cfg = f('auth.yml');
  before(async () => {
    // htpasswd -nB writes $2y$ hashes; bcryptjs writes $2b$: both are accepted.
    writeFileSync(cfg, `basic_auth_users:\n  prometheus: ${HASH}\n  grafana: ${HASH.replace(/^\$2b\$/, '$2y$')}\n`);
    m = await startMemlens([`--web.config.file=${cfg}`, '--watch.enabled=false', '--collectors.disabled=process', `--snapshot.dir=${f('snaps-auth')}`]);
  });
  after(async () => m.stop());

  test('no credentials, a wrong password, an unknown user: 401 on every route; /healthz stays open', async () => {
    const base = `http://127.0.0.1:${m.port}`;
    for (const path of ['/metrics', '/', '/api/v1/oom-kills', '/api/v1/snapshots', '/api/v1/events', '/a/route/added/later']) {
      const none = await get(`${base}${path}`);
      assert.equal(none.status, 401, `${path} without credentials`);
      assert.match(String(none.headers['www-authenticate']), /^Basic/);
      assert.equal((await get(`${base}${path}`, { auth: basic('prometheus', 'wrong') })).status, 401, `${path} wrong password`);
      assert.equal((await get(`${base}${path}`, { auth: basic('nobody', 's3cret') })).status, 401, `${path} unknown user`);
    }
    assert.equal((await get(`${base}/healthz`)).status, 200);
    const post = await get(`${base}/api/v1/snapshots`, { method: 'POST' });
    assert.equal(post.status, 401, 'POST without credentials');
  });

  test('the right password: 200', async () => {
    const base = `http://127.0.0.1:${m.port}`;
    const r = await get(`${base}/metrics`, { auth: basic('prometheus', 's3cret') });
    assert.equal(r.status, 200);
    assert.match(r.body, /memlens_build_info/);
    assert.equal((await get(`${base}/api/v1/oom-kills`, { auth: basic('prometheus', 's3cret') })).status, 200);
    assert.equal((await get(`${base}/metrics`, { auth: basic('grafana', 's3cret') })).status, 200, 'a $2y$ hash');
  });

  test('POST /api/v1/snapshots without --web.enable-snapshot-api: 403 even with the right password', async () => {
    const r = await get(`http://127.0.0.1:${m.port}/api/v1/snapshots`, { method: 'POST', auth: basic('prometheus', 's3cret'), headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 403);
    assert.match(r.body, /--web\.enable-snapshot-api/);
  });

  test('the file is re-read when it changes: a new hash applies without a restart; a broken file fails closed', async () => {
    const base = `http://127.0.0.1:${m.port}`;
    writeFileSync(cfg, `basic_auth_users:\n  prometheus: ${HASH2}\n`);
    assert.equal((await get(`${base}/metrics`, { auth: basic('prometheus', 's3cret') })).status, 401, 'the old password no longer works');
    assert.equal((await get(`${base}/metrics`, { auth: basic('prometheus', 'rotated') })).status, 200);
    writeFileSync(cfg, `basic_auth_users:\n  prometheus: not-a-hash\n`);
    assert.equal((await get(`${base}/metrics`, { auth: basic('prometheus', 'rotated') })).status, 500, 'a broken file refuses requests');
    // The child's stderr reaches this process on its own pipe: the line may come after the 500 it explains.
    await waitFor('the "web config invalid" log line', () => (/web config invalid/.test(m.log()) ? true : undefined), 5000);
    writeFileSync(cfg, `basic_auth_users:\n  prometheus: ${HASH}\n`);
    assert.equal((await get(`${base}/metrics`, { auth: basic('prometheus', 's3cret') })).status, 200, 'fixed again');
  });
});

describe('TLS', () => {
  let m: Running;
  before(async () => {
    const cfg = f('tls.yml');
    // Relative paths: relative to the file's directory, as exporter-toolkit reads them.
    writeFileSync(cfg, `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\nbasic_auth_users:\n  prometheus: ${HASH}\n`);
    m = await startMemlens([`--web.config.file=${cfg}`, '--watch.enabled=false', '--collectors.disabled=process', `--snapshot.dir=${f('snaps-tls')}`]);
  });
  after(async () => m.stop());

  test('https with the right password: 200; without: 401', async () => {
    const ca = execFileSync('cat', [f('ca.crt')]);
    const url = `https://127.0.0.1:${m.port}/metrics`;
    assert.equal((await get(url, { ca, auth: basic('prometheus', 's3cret') })).status, 200);
    assert.equal((await get(url, { ca })).status, 401);
  });

  test('plain HTTP to the TLS port gets no HTTP answer', async () => {
    const r = await get(`http://127.0.0.1:${m.port}/metrics`, { auth: basic('prometheus', 's3cret') }).catch((err: unknown) => err);
    assert.ok(r instanceof Error, `plain HTTP was answered: ${JSON.stringify(r)}`);
  });

  test('TLS below min_version is refused', async () => {
    const ca = execFileSync('cat', [f('ca.crt')]);
    const r = await get(`https://127.0.0.1:${m.port}/metrics`, { ca, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', auth: basic('prometheus', 's3cret') }).catch((err: unknown) => err);
    assert.ok(r instanceof Error, 'a TLS 1.1 handshake succeeded');
  });
});

describe('TLS with a client certificate required', () => {
  let m: Running;
  before(async () => {
    const cfg = f('mtls.yml');
    writeFileSync(cfg, `tls_server_config:\n  cert_file: ${f('server.crt')}\n  key_file: ${f('server.key')}\n  client_ca_file: ${f('ca.crt')}\n  client_auth_type: RequireAndVerifyClientCert\n`);
    m = await startMemlens([`--web.config.file=${cfg}`, '--watch.enabled=false', '--collectors.disabled=process', `--snapshot.dir=${f('snaps-mtls')}`]);
  });
  after(async () => m.stop());

  test('no client certificate, or one from another CA: refused; the CA-signed one: 200', async () => {
    const ca = execFileSync('cat', [f('ca.crt')]);
    const url = `https://127.0.0.1:${m.port}/metrics`;
    const none = await get(url, { ca }).catch((err: unknown) => err);
    assert.ok(none instanceof Error || (none as Answer).status >= 400, 'served without a client certificate');
    const rogue = await get(url, { ca, cert: execFileSync('cat', [f('rogue.crt')]), key: execFileSync('cat', [f('rogue.key')]) }).catch((err: unknown) => err);
    assert.ok(rogue instanceof Error || (rogue as Answer).status >= 400, 'served with an untrusted client certificate');
    const good = await get(url, { ca, cert: execFileSync('cat', [f('client.crt')]), key: execFileSync('cat', [f('client.key')]) });
    assert.equal(good.status, 200);
  });
});

test('a bad web config file: exit 2, naming the file and the key, nothing started', () => {
  const cases: [string, RegExp][] = [
    [`basic_auth_users:\n  prometheus: plaintext\n`, /basic_auth_users\.prometheus: not a bcrypt hash/],
    [`tls_server_config:\n  cert_file: ${f('server.crt')}\n`, /tls_server_config\.key_file: required/],
    [`tls_server_config:\n  cert_file: ${f('nope.crt')}\n  key_file: ${f('server.key')}\n`, /tls_server_config\.cert_file: cannot read/],
    [`tls_server_config:\n  cert_file: ${f('server.crt')}\n  key_file: ${f('rogue.key')}\n`, /tls_server_config\.cert_file: unusable certificate or key/],
    [`tls_server_config:\n  cert_file: ${f('server.crt')}\n  key_file: ${f('server.key')}\n  client_ca_file: ${f('ca.crt')}\n`, /client_ca_file: set without a client_auth_type/],
    [`tls_server_config:\n  cert_file: ${f('server.crt')}\n  key_file: ${f('server.key')}\n  client_auth_type: Sometimes\n`, /client_auth_type: "Sometimes" is not one of/],
    [`tls_server_config:\n  cert_file: ${f('server.crt')}\n  key_file: ${f('server.key')}\n  min_version: TLS14\n`, /tls_server_config\.min_version/],
    [`tls_server_config:\n  cert_file: ${f('server.crt')}\n  key_file: ${f('server.key')}\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n`, /tls_server_config\.cipher_suites: is an exporter-toolkit key memlens does not implement/],
    [`basic_auth_users: {}\nunknown_key: 1\n`, /unknown_key|Unrecognized key/],
    [`tls_server_config: [\n`, /not valid YAML/],
  ];
  for (const [text, re] of cases) {
    const file = f('bad.yml');
    writeFileSync(file, text);
    const r = runMemlens([`--web.config.file=${file}`, `--snapshot.dir=${f('snaps-bad')}`]);
    assert.equal(r.status, 2, `${text} -> exit ${r.status}: ${r.stderr}`);
    assert.ok(r.stderr.includes(file), `the file is named: ${r.stderr}`);
    assert.match(r.stderr, re, text);
  }
  const missing = runMemlens([`--web.config.file=${f('absent.yml')}`]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--web\.config\.file .*absent\.yml: cannot read/);
});
