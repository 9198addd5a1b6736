// A small parser for the Prometheus text exposition format (0.0.4), for tests that scrape a real
// exporter: `name{label="value",...} value [timestamp]`, `# HELP`/`# TYPE` comments, label values
// escaped with \\, \" and \n. Malformed lines throw: a test must not pass on text Prometheus rejects.
// Also: a free TCP port for an exporter under test, and one scrape.
import { createServer } from 'node:net';

export interface ExpoSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(text: string, lineNo: number): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`exposition line ${lineNo}: not a value: ${JSON.stringify(text)}`);
  return Number(text);
}

/** Every sample of the exposition, in order. */
export function parseExposition(text: string): ExpoSample[] {
  const out: ExpoSample[] = [];
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const nm = NAME.exec(line);
    if (nm === null) throw new Error(`exposition line ${lineNo}: no metric name: ${JSON.stringify(raw)}`);
    const name = nm[0];
    let pos = name.length;
    const labels: Record<string, string> = {};
    if (line[pos] === '{') {
      pos++;
      for (;;) {
        while (line[pos] === ' ') pos++;
        if (line[pos] === '}') {
          pos++;
          break;
        }
        const ln = LABEL_NAME.exec(line.slice(pos));
        if (ln === null) throw new Error(`exposition line ${lineNo}: bad label name at ${pos}: ${JSON.stringify(raw)}`);
        pos += ln[0].length;
        if (line[pos] !== '=' || line[pos + 1] !== '"') throw new Error(`exposition line ${lineNo}: expected =" at ${pos}: ${JSON.stringify(raw)}`);
        pos += 2;
        let value = '';
        for (;;) {
          const ch = line[pos];
          if (ch === undefined) throw new Error(`exposition line ${lineNo}: unterminated label value: ${JSON.stringify(raw)}`);
          pos++;
          if (ch === '"') break;
          if (ch === '\\') {
            const esc = line[pos];
            pos++;
            if (esc === 'n') value += '\n';
            else if (esc === '\\' || esc === '"') value += esc;
            else throw new Error(`exposition line ${lineNo}: bad escape \\${esc ?? ''}: ${JSON.stringify(raw)}`);
          } else {
            value += ch;
          }
        }
        if (Object.hasOwn(labels, ln[0])) throw new Error(`exposition line ${lineNo}: label ${ln[0]} twice: ${JSON.stringify(raw)}`);
        labels[ln[0]] = value;
        while (line[pos] === ' ') pos++;
        if (line[pos] === ',') pos++;
        else if (line[pos] !== '}') throw new Error(`exposition line ${lineNo}: expected , or } at ${pos}: ${JSON.stringify(raw)}`);
      }
    }
    const rest = line.slice(pos).trim().split(/\s+/);
    if (rest.length < 1 || rest.length > 2 || rest[0] === undefined || rest[0] === '') {
      throw new Error(`exposition line ${lineNo}: expected value [timestamp]: ${JSON.stringify(raw)}`);
    }
    out.push({ name, labels, value: parseValue(rest[0], lineNo) });
  });
  return out;
}

/** The samples named `name` whose labels include every pair of `labels`. */
export function select(samples: readonly ExpoSample[], name: string, labels: Record<string, string> = {}): ExpoSample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample named `name` with these labels; throws when there is none or more than one. */
export function valueOf(samples: readonly ExpoSample[], name: string, labels: Record<string, string> = {}): number {
  const found = select(samples, name, labels);
  if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

/** A TCP port free on 127.0.0.1 right now (bound to port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no port from the kernel'))));
    });
  });
}

/** True when nothing listens on 127.0.0.1:port (we can bind it ourselves). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** GET url; the status and the body. */
export async function scrape(url: string): Promise<{ status: number; contentType: string | null; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() };
}
