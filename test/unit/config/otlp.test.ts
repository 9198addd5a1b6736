// OTLP configuration from --otlp.endpoint and the OTEL_* environment: the specification's rules
// (per-signal over generic, paths appended to the base only), and a clear error for bad values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { otlpConfig } from '../../../src/config/otlp.js';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';

test('no endpoint: no push at all', () => {
  const c = otlpConfig(undefined, {});
  assert.equal(c.metrics, undefined);
  assert.equal(c.logs, undefined);
  assert.equal(c.resource['service.name'], 'memlens');
});

test('OTEL_EXPORTER_OTLP_ENDPOINT is a base: /v1/metrics and /v1/logs appended, its own path kept', () => {
  const c = otlpConfig(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/otlp/' });
  assert.equal(c.metrics?.url, 'http://collector:4318/otlp/v1/metrics');
  assert.equal(c.logs?.url, 'http://collector:4318/otlp/v1/logs');
  assert.equal(c.metrics?.protocol, 'http/json');
  assert.equal(c.metrics?.temporality, 'cumulative');
  assert.equal(c.metrics?.intervalMs, 60_000);
  assert.equal(c.metrics?.timeoutMs, 10_000);
});

test('a per-signal endpoint is used as it is and wins; --otlp.endpoint overrides the generic variable', () => {
  const c = otlpConfig('https://flag:4318', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318', OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://logs:9999/custom' });
  assert.equal(c.metrics?.url, 'https://flag:4318/v1/metrics');
  assert.equal(c.logs?.url, 'http://logs:9999/custom');
  const only = otlpConfig(undefined, { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:1/x' });
  assert.equal(only.metrics?.url, 'http://m:1/x');
  assert.equal(only.logs, undefined, 'no logs endpoint: no logs');
});

test('OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER=none and OTEL_SDK_DISABLED turn signals off', () => {
  const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
  assert.equal(otlpConfig(undefined, { ...base, OTEL_METRICS_EXPORTER: 'none' }).metrics, undefined);
  assert.notEqual(otlpConfig(undefined, { ...base, OTEL_METRICS_EXPORTER: 'none' }).logs, undefined);
  assert.equal(otlpConfig(undefined, { ...base, OTEL_LOGS_EXPORTER: 'none' }).logs, undefined);
  const off = otlpConfig(undefined, { ...base, OTEL_SDK_DISABLED: 'true' });
  assert.equal(off.metrics, undefined);
  assert.equal(off.logs, undefined);
});

test('protocol, headers (percent-decoded, per-signal over generic), timeouts, interval, temporality', () => {
  const c = otlpConfig(undefined, {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc, X-Scope-OrgID=t1',
    OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'X-Scope-OrgID=t2',
    OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '2000',
    OTEL_METRIC_EXPORT_INTERVAL: '15000',
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'Delta',
  });
  assert.equal(c.metrics?.protocol, 'http/protobuf');
  assert.equal(c.logs?.protocol, 'http/json');
  assert.deepEqual(c.metrics?.headers, { Authorization: 'Bearer abc', 'X-Scope-OrgID': 't2' });
  assert.deepEqual(c.logs?.headers, { Authorization: 'Bearer abc', 'X-Scope-OrgID': 't1' });
  assert.equal(c.metrics?.timeoutMs, 2000);
  assert.equal(c.logs?.timeoutMs, 5000);
  assert.equal(c.metrics?.intervalMs, 15_000);
  assert.equal(c.metrics?.exportTimeoutMs, 15_000, 'the export timeout never exceeds the interval');
  assert.equal(c.metrics?.temporality, 'delta');
});

test('resource: OTEL_SERVICE_NAME over service.name in OTEL_RESOURCE_ATTRIBUTES; K8S_NODE_NAME as k8s.node.name', () => {
  const c = otlpConfig(undefined, { OTEL_RESOURCE_ATTRIBUTES: 'service.name=a,team=mem%3Dlens', OTEL_SERVICE_NAME: 'b', K8S_NODE_NAME: 'n1' });
  assert.deepEqual(c.resource, { 'service.name': 'b', team: 'mem=lens', 'k8s.node.name': 'n1' });
  assert.equal(otlpConfig(undefined, { OTEL_RESOURCE_ATTRIBUTES: 'service.name=a' }).resource['service.name'], 'a');
});

test('bad values are clear errors, not silent defaults', () => {
  const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
  const cases: [Record<string, string>, RegExp][] = [
    [{ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /OTEL_EXPORTER_OTLP_PROTOCOL: .*http\/json or http\/protobuf.*no gRPC/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT: only http:\/\/ and https:\/\//],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, /OTEL_EXPORTER_OTLP_ENDPOINT: not a URL/],
    [{ ...base, OTEL_METRIC_EXPORT_INTERVAL: '10s' }, /OTEL_METRIC_EXPORT_INTERVAL: a whole number of milliseconds/],
    [{ ...base, OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_METRIC_EXPORT_TIMEOUT: '5000' }, /must not exceed/],
    [{ ...base, OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }, /OTEL_EXPORTER_OTLP_HEADERS: not key=value/],
    [{ ...base, OTEL_EXPORTER_OTLP_HEADERS: 'a=%zz' }, /bad percent-encoding/],
    [{ ...base, OTEL_METRICS_EXPORTER: 'prometheus' }, /OTEL_METRICS_EXPORTER: memlens exports otlp or none/],
    [{ ...base, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes' }, /cumulative, delta or lowmemory/],
  ];
  for (const [env, re] of cases) assert.throws(() => otlpConfig(undefined, env), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(env));
  assert.throws(() => otlpConfig('ftp://x', {}), /--otlp.endpoint: only http/);
});

test('flags: --otlp.endpoint and --web.disable-metrics through loadConfig (flag and MEMLENS_ env)', () => {
  const r = loadConfig(['--otlp.endpoint', 'http://c:4318', '--web.disable-metrics', 'true'], {});
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') return;
  assert.equal(r.config.disableMetrics, true);
  assert.equal(r.config.otlp.metrics?.url, 'http://c:4318/v1/metrics');
  const e = loadConfig([], { MEMLENS_OTLP_ENDPOINT: 'http://d:4318', OTEL_LOGS_EXPORTER: 'none' });
  assert.ok(e.kind === 'run' && e.config.otlp.metrics?.url === 'http://d:4318/v1/metrics' && e.config.otlp.logs === undefined && !e.config.disableMetrics);
});
