// --watch.thresholds as written by the user, checked once at startup.

/** `--watch.thresholds`: fractions in (0, 1], returned ascending without duplicates; else a message. */
export function parseThresholds(items: readonly string[]): number[] | string {
  if (items.length === 0) return 'at least one threshold is needed';
  const out = new Set<number>();
  for (const it of items) {
    if (!/^(0(\.\d+)?|1(\.0*)?|\.\d+)$/.test(it)) return `not a fraction of the limit (like 0.9): ${JSON.stringify(it)}`;
    const v = Number(it);
    if (!(v > 0 && v <= 1)) return `a threshold must be above 0 and at most 1: ${JSON.stringify(it)}`;
    out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}
