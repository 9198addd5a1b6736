// The README's metric table, generated from the catalog (a test keeps the README in sync).
import type { MetricDesc } from './types.js';

export function catalogMarkdown(descs: readonly MetricDesc[]): string {
  const rows = descs.map((d) => {
    const labels = d.labels.map((l) => l.name).join(', ');
    return `| \`${d.prom}\` | ${d.kind} | ${labels === '' ? '—' : labels} | ${d.help.replace(/\|/g, '\\|')} | ${d.source.replace(/\|/g, '\\|')} |`;
  });
  return ['| metric | type | labels | meaning | source |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
