// The OTLP-to-Prometheus metric name translation with suffixes, as Prometheus's OTLP receiver
// and the Collector's prometheus/prometheusremotewrite exporters do it: a TypeScript port of
// normalizeName/buildUnitSuffixes/cleanUpUnit in github.com/prometheus/otlptranslator
// (metric_namer.go, unit_namer.go; strategy UnderscoreEscapingWithSuffixes), written from
// that source. Rules: the name is split into tokens at every character outside [a-zA-Z0-9:];
// the unit's main part (before `/`) maps through a table (By -> bytes, s -> seconds, 1 -> none)
// and its per part becomes `per_<second|minute|...>`, each added only when not already a token;
// units with `{...}` annotations add nothing; monotonic counters end in one `total`, gauges with
// unit 1 in one `ratio`.

export type PromType = 'gauge' | 'counter' | 'histogram';

const UNIT: Readonly<Record<string, string>> = {
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', TiBy: 'tibibytes', KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes', TBy: 'terabytes',
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams', Cel: 'celsius', Hz: 'hertz', '1': '', '%': 'percent',
};
const PER_UNIT: Readonly<Record<string, string>> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

/** Invalid characters to `_`, runs of `_` to one, no `_` at either end. */
function cleanUpUnit(u: string): string {
  return u.replace(/[^a-zA-Z0-9:_]/g, '_').replace(/__+/g, '_').replace(/^_/, '').replace(/_$/, '');
}

function unitSuffixes(unit: string): [string, string] {
  const slash = unit.indexOf('/');
  const main = (slash < 0 ? unit : unit.slice(0, slash)).trim();
  const per = slash < 0 ? '' : unit.slice(slash + 1).trim();
  const mainSuffix = main !== '' && !/[{}]/.test(main) ? UNIT[main] ?? main : '';
  const perWord = per !== '' && !/[{}]/.test(per) ? PER_UNIT[per] ?? per : '';
  return [mainSuffix, perWord === '' ? '' : `per_${perWord}`];
}

export function otlpToPrometheusName(name: string, unit: string, type: PromType): string {
  let tokens = name.split(/[^a-zA-Z0-9:]+/).filter((t) => t !== '');
  const [mainRaw, perRaw] = unitSuffixes(unit);
  let main = cleanUpUnit(mainRaw);
  let per = cleanUpUnit(perRaw);
  if (tokens.includes(main)) main = '';
  if (per === 'per_' || tokens.includes(per)) per = '';
  if (main !== '') tokens.push(main);
  if (per !== '') tokens.push(per);
  if (type === 'counter') tokens = [...tokens.filter((t) => t !== 'total'), 'total'];
  if (unit === '1' && type === 'gauge') tokens = [...tokens.filter((t) => t !== 'ratio'), 'ratio'];
  const out = tokens.join('_');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}
