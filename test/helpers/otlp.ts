// A real OTLP/HTTP receiver for tests (@elastic/mockotlpserver: decodes HTTP/JSON and
// HTTP/protobuf requests), and one plain shape for what it received in either encoding.
// protobufjs-decoded messages name the set member of a oneof in a virtual field (`value` of a
// data point or an AnyValue, `data` of a metric); JSON requests just carry the member. Int64
// fields arrive as numbers, strings (JSON) or Long objects (protobuf): String() then Number().
import { createRequire } from 'node:module';

interface MockServer {
  start(): Promise<void>;
  close(): Promise<void>;
  httpUrl: URL | string | null;
}
type MockCtor = new (opts: Record<string, unknown>) => MockServer;
const { MockOtlpServer } = createRequire(import.meta.url)('@elastic/mockotlpserver') as { MockOtlpServer: MockCtor };

export type Attrs = Record<string, string | number | boolean>;

export interface OtlpPoint {
  attrs: Attrs;
  value: number | undefined;
  histogram?: { bounds: number[]; counts: number[]; sum: number; count: number };
  startNs: bigint;
  timeNs: bigint;
}

export interface OtlpMetric {
  name: string;
  unit: string;
  description: string;
  /** gauge, sum (with monotonic and temporality) or histogram. */
  type: 'gauge' | 'sum' | 'histogram';
  monotonic: boolean;
  /** 1 delta, 2 cumulative (AggregationTemporality in the proto). */
  temporality: number | undefined;
  points: OtlpPoint[];
}

export interface OtlpMetricsRequest {
  resource: Attrs;
  metrics: OtlpMetric[];
}

export interface OtlpLogRecord {
  resource: Attrs;
  timeNs: bigint;
  observedNs: bigint;
  severityNumber: number;
  severityText: string;
  body: string;
  eventName: string;
  attrs: Attrs;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const num = (v: unknown): number => Number(String(v));
const big = (v: unknown): bigint => (v === undefined || v === null ? 0n : BigInt(String(v)));

/** The member of a oneof that is set: protobufjs names it in `field`, JSON has only that key. */
function oneof(o: Obj, field: string, members: readonly string[]): string | undefined {
  const named = o[field];
  if (typeof named === 'string' && members.includes(named)) return named;
  return members.find((m) => Object.hasOwn(o, m) && o[m] !== null && o[m] !== undefined);
}

function anyValue(v: unknown): string | number | boolean {
  const o = obj(v);
  const k = oneof(o, 'value', ['stringValue', 'intValue', 'doubleValue', 'boolValue']);
  if (k === undefined) return '';
  if (k === 'stringValue') return String(o[k]);
  if (k === 'boolValue') return Boolean(o[k]);
  return num(o[k]);
}

export function attrs(list: unknown): Attrs {
  const out: Attrs = {};
  for (const kv of arr(list)) out[String(obj(kv)['key'])] = anyValue(obj(kv)['value']);
  return out;
}

function point(dp: unknown): OtlpPoint {
  const o = obj(dp);
  const k = oneof(o, 'value', ['asDouble', 'asInt']);
  return { attrs: attrs(o['attributes']), value: k === undefined ? undefined : num(o[k]), startNs: big(o['startTimeUnixNano']), timeNs: big(o['timeUnixNano']) };
}

export function normalizeMetrics(req: unknown): OtlpMetricsRequest[] {
  const out: OtlpMetricsRequest[] = [];
  for (const rm of arr(obj(req)['resourceMetrics'])) {
    const metrics: OtlpMetric[] = [];
    for (const sm of arr(obj(rm)['scopeMetrics'])) {
      for (const m of arr(obj(sm)['metrics'])) {
        const mo = obj(m);
        const type = oneof(mo, 'data', ['gauge', 'sum', 'histogram']) as OtlpMetric['type'] | undefined;
        if (type === undefined) throw new Error(`metric ${String(mo['name'])}: no gauge, sum or histogram`);
        const data = obj(mo[type]);
        const points = arr(data['dataPoints']).map((dp): OtlpPoint => {
          if (type !== 'histogram') return point(dp);
          const h = obj(dp);
          return {
            attrs: attrs(h['attributes']), value: undefined, startNs: big(h['startTimeUnixNano']), timeNs: big(h['timeUnixNano']),
            histogram: { bounds: arr(h['explicitBounds']).map(num), counts: arr(h['bucketCounts']).map(num), sum: num(h['sum']), count: num(h['count']) },
          };
        });
        metrics.push({
          name: String(mo['name']), unit: String(mo['unit'] ?? ''), description: String(mo['description'] ?? ''), type,
          monotonic: data['isMonotonic'] === true, temporality: data['aggregationTemporality'] === undefined ? undefined : num(data['aggregationTemporality']), points,
        });
      }
    }
    out.push({ resource: attrs(obj(obj(rm)['resource'])['attributes']), metrics });
  }
  return out;
}

export function normalizeLogs(req: unknown): OtlpLogRecord[] {
  const out: OtlpLogRecord[] = [];
  for (const rl of arr(obj(req)['resourceLogs'])) {
    const resource = attrs(obj(obj(rl)['resource'])['attributes']);
    for (const sl of arr(obj(rl)['scopeLogs'])) {
      for (const lr of arr(obj(sl)['logRecords'])) {
        const o = obj(lr);
        out.push({
          resource, timeNs: big(o['timeUnixNano']), observedNs: big(o['observedTimeUnixNano']), severityNumber: num(o['severityNumber'] ?? 0),
          severityText: String(o['severityText'] ?? ''), body: String(anyValue(o['body'])), eventName: String(o['eventName'] ?? ''), attrs: attrs(o['attributes']),
        });
      }
    }
  }
  return out;
}

export interface Receiver {
  /** Base URL (http://127.0.0.1:PORT) to give as OTEL_EXPORTER_OTLP_ENDPOINT / --otlp.endpoint. */
  url: string;
  metrics: OtlpMetricsRequest[];
  logs: OtlpLogRecord[];
  close(): Promise<void>;
}

/**
 * Starts a receiver on 127.0.0.1:port (0: any). Its callbacks hear every mockotlpserver in the
 * process (they share diagnostics channels), so tests run one receiver at a time and `active`
 * turns a closed one deaf.
 */
export async function startReceiver(port = 0): Promise<Receiver> {
  let active = true;
  const r: Receiver = { url: '', metrics: [], logs: [], close: async () => {} };
  const server = new MockOtlpServer({
    services: ['http'], httpHostname: '127.0.0.1', httpPort: port, logLevel: 'error',
    onMetrics: (req: unknown) => active && r.metrics.push(...normalizeMetrics(req)),
    onLogs: (req: unknown) => active && r.logs.push(...normalizeLogs(req)),
  });
  await server.start();
  r.url = String(server.httpUrl).replace(/\/+$/, '');
  r.close = async () => {
    active = false;
    await server.close();
  };
  return r;
}
