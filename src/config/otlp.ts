// OTLP push, configured as OpenTelemetry users expect: the OTEL_* environment variables of the
// OpenTelemetry specification (https://opentelemetry.io/docs/specs/otel/protocol/exporter/ and
// https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/), plus
// --otlp.endpoint. Resolved and validated once at startup: a bad value is a clear error, never a
// silent fallback (the SDK itself would only log a diag warning and use its default).
import { ConfigError } from '../errors.js';

export type OtlpProtocol = 'http/json' | 'http/protobuf';
export type Temporality = 'cumulative' | 'delta' | 'lowmemory';

export interface OtlpSignalConfig {
  /** Full URL of the signal's endpoint (…/v1/metrics, …/v1/logs unless given per signal). */
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  /** Per export request (OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT). */
  timeoutMs: number;
}

export interface OtlpMetricsConfig extends OtlpSignalConfig {
  /** OTEL_METRIC_EXPORT_INTERVAL. */
  intervalMs: number;
  /** OTEL_METRIC_EXPORT_TIMEOUT: collection plus export. */
  exportTimeoutMs: number;
  temporality: Temporality;
}

export interface OtlpConfig {
  /** Undefined: no metrics push (no endpoint, OTEL_METRICS_EXPORTER=none or OTEL_SDK_DISABLED=true). */
  metrics: OtlpMetricsConfig | undefined;
  /** Undefined: no log records (no endpoint, OTEL_LOGS_EXPORTER=none or OTEL_SDK_DISABLED=true). */
  logs: OtlpSignalConfig | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME (default memlens) and K8S_NODE_NAME. */
  resource: Record<string, string>;
}

type Env = Readonly<Record<string, string | undefined>>;

const DEFAULT_TIMEOUT_MS = 10_000; // the specification's default for OTEL_EXPORTER_OTLP_TIMEOUT
const DEFAULT_INTERVAL_MS = 60_000; // OTEL_METRIC_EXPORT_INTERVAL
const DEFAULT_EXPORT_TIMEOUT_MS = 30_000; // OTEL_METRIC_EXPORT_TIMEOUT

function nonEmpty(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function milliseconds(env: Env, name: string): number | undefined {
  const v = nonEmpty(env, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new ConfigError(`${name}: a whole number of milliseconds above 0, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** `k=v,k2=v2`, values percent-encoded (the W3C Baggage form the specification uses for both variables). */
function keyValueList(env: Env, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  const v = nonEmpty(env, name);
  if (v === undefined) return out;
  for (const item of v.split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    const key = eq < 0 ? '' : item.slice(0, eq).trim();
    if (key === '') throw new ConfigError(`${name}: not key=value: ${JSON.stringify(item)}`);
    try {
      out[decodeURIComponent(key)] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      throw new ConfigError(`${name}: bad percent-encoding in ${JSON.stringify(item)}`);
    }
  }
  return out;
}

function httpUrl(name: string, text: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ConfigError(`${name}: not a URL: ${JSON.stringify(text)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${name}: only http:// and https:// (OTLP/HTTP) are supported, got ${JSON.stringify(text)}`);
  return u;
}

/** `base` + `/v1/metrics`, keeping a path the base already has (the specification's rule for OTEL_EXPORTER_OTLP_ENDPOINT). */
function signalUrl(name: string, base: string, path: string): string {
  const u = httpUrl(name, base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/${path}`;
  return u.toString();
}

function exporterOn(env: Env, name: string): boolean {
  const v = nonEmpty(env, name);
  if (v === undefined) return true;
  const list = v.split(',').map((x) => x.trim().toLowerCase()).filter((x) => x !== '');
  for (const x of list) if (x !== 'otlp' && x !== 'none') throw new ConfigError(`${name}: memlens exports otlp or none, got ${JSON.stringify(x)}`);
  return list.includes('otlp');
}

function protocol(env: Env, signal: 'METRICS' | 'LOGS'): OtlpProtocol {
  for (const name of [`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`, 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const v = nonEmpty(env, name);
    if (v === undefined) continue;
    if (v === 'http/json' || v === 'http/protobuf') return v;
    throw new ConfigError(`${name}: memlens speaks http/json or http/protobuf, got ${JSON.stringify(v)}${v === 'grpc' ? ' (no gRPC exporter is bundled)' : ''}`);
  }
  return 'http/json';
}

function signal(env: Env, endpointFlag: string | undefined, signal: 'METRICS' | 'LOGS', path: string): OtlpSignalConfig | undefined {
  const own = nonEmpty(env, `OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`);
  const base = endpointFlag ?? nonEmpty(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  let url: string;
  if (own !== undefined) url = httpUrl(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`, own).toString();
  else if (base !== undefined) url = signalUrl(endpointFlag !== undefined ? '--otlp.endpoint' : 'OTEL_EXPORTER_OTLP_ENDPOINT', base, path);
  else return undefined;
  return {
    url,
    protocol: protocol(env, signal),
    headers: { ...keyValueList(env, 'OTEL_EXPORTER_OTLP_HEADERS'), ...keyValueList(env, `OTEL_EXPORTER_OTLP_${signal}_HEADERS`) },
    timeoutMs: milliseconds(env, `OTEL_EXPORTER_OTLP_${signal}_TIMEOUT`) ?? milliseconds(env, 'OTEL_EXPORTER_OTLP_TIMEOUT') ?? DEFAULT_TIMEOUT_MS,
  };
}

function temporality(env: Env): Temporality {
  const name = 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE';
  const v = nonEmpty(env, name)?.toLowerCase();
  if (v === undefined) return 'cumulative';
  if (v === 'cumulative' || v === 'delta' || v === 'lowmemory') return v;
  throw new ConfigError(`${name}: cumulative, delta or lowmemory, got ${JSON.stringify(v)}`);
}

/** The OTLP push configuration from --otlp.endpoint and the OTEL_* environment. */
export function otlpConfig(endpointFlag: string | undefined, env: Env): OtlpConfig {
  const disabled = nonEmpty(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true';
  const metricsOn = exporterOn(env, 'OTEL_METRICS_EXPORTER') && !disabled;
  const logsOn = exporterOn(env, 'OTEL_LOGS_EXPORTER') && !disabled;
  const m = metricsOn ? signal(env, endpointFlag, 'METRICS', 'v1/metrics') : undefined;
  const l = logsOn ? signal(env, endpointFlag, 'LOGS', 'v1/logs') : undefined;
  const resource = keyValueList(env, 'OTEL_RESOURCE_ATTRIBUTES');
  // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES (specification).
  resource['service.name'] = nonEmpty(env, 'OTEL_SERVICE_NAME') ?? resource['service.name'] ?? 'memlens';
  const node = nonEmpty(env, 'K8S_NODE_NAME');
  if (node !== undefined && resource['k8s.node.name'] === undefined) resource['k8s.node.name'] = node;
  const intervalMs = milliseconds(env, 'OTEL_METRIC_EXPORT_INTERVAL') ?? DEFAULT_INTERVAL_MS;
  const exportTimeoutMs = milliseconds(env, 'OTEL_METRIC_EXPORT_TIMEOUT');
  // The SDK's PeriodicExportingMetricReader refuses a timeout longer than the interval.
  if (m !== undefined && exportTimeoutMs !== undefined && exportTimeoutMs > intervalMs) {
    throw new ConfigError(`OTEL_METRIC_EXPORT_TIMEOUT (${exportTimeoutMs}) must not exceed OTEL_METRIC_EXPORT_INTERVAL (${intervalMs})`);
  }
  return {
    metrics: m === undefined ? undefined : {
      ...m,
      intervalMs,
      exportTimeoutMs: exportTimeoutMs ?? Math.min(DEFAULT_EXPORT_TIMEOUT_MS, intervalMs),
      temporality: temporality(env),
    },
    logs: l,
    resource,
  };
}
