// Metric names that dashboards and alert rules may use: the catalog's (the contract), the series a
// histogram adds, and the few standard ones that are not memlens's own.
import { catalog } from '../../src/model/catalog.js';

/** Not in the catalog but standard: Prometheus's own `up`, prom-client's default process metrics. */
export const EXTERNAL_NAMES: ReadonlyMap<string, string> = new Map([
  ['up', 'set by Prometheus for every target'],
  ['process_start_time_seconds', 'prom-client default metric (memlens serves it at /metrics): when the memlens process started'],
]);

export function knownNames(): Set<string> {
  const out = new Set<string>(EXTERNAL_NAMES.keys());
  for (const d of catalog) {
    if (d.kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(d.prom + s);
    else out.add(d.prom);
  }
  return out;
}

/**
 * The metric names a PromQL expression (or a template holding some) selects: identifiers starting
 * with memlens_ or one of the external names. Recording rules (memlens:...) are checked separately.
 */
export function metricNamesIn(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/(?<![\w:])(memlens_[a-z0-9_]+|up|process_[a-z0-9_]+)(?=\s*[{[)\s,/*+-]|$)/g)) names.add(m[1]!);
  return [...names];
}
