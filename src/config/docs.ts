// The README's flag table, generated from OPTIONS (a test keeps it in sync).
import { OPTIONS, envName } from './options.js';

export function optionsMarkdown(): string {
  const rows = OPTIONS.map((o) => {
    const dflt = o.default === undefined || o.default === '' ? '—' : `\`${o.default}\``;
    const flag = o.kind === 'bool' ? `--[no-]${o.flag}` : `--${o.flag}`;
    return `| \`${flag}\` | \`${envName(o.flag)}\` | ${dflt} | ${o.help} |`;
  });
  return ['| flag | environment | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
