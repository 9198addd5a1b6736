// Limits: v2 writes `max` for unlimited; v1 writes PAGE_COUNTER_MAX * PAGE_SIZE
// (9223372036854771712 on x86_64 with 4 KiB pages), a number near 2^63 that does not fit a
// double exactly. "Unlimited" is a value of its own in the model, never a huge number.
import { ParseError } from '../errors.js';
import type { Parsed } from '../procfs/common.js';

export type Limit = { unlimited: true } | { unlimited: false; bytes: number };

export const UNLIMITED: Limit = { unlimited: true };

/** Anything at or above 2^62 is treated as "no limit": no real machine has 4 EiB. */
const UNLIMITED_FLOOR = 2n ** 62n;

export function parseLimit(text: string, path: string): Parsed<Limit | undefined> {
  const t = text.trim();
  if (t === 'max') return { value: UNLIMITED, problems: [] };
  if (!/^\d+$/.test(t)) return { value: undefined, problems: [new ParseError(`not a limit: ${JSON.stringify(t.slice(0, 40))}`, path, 1)] };
  const big = BigInt(t);
  if (big >= UNLIMITED_FLOOR) return { value: UNLIMITED, problems: [] };
  return { value: { unlimited: false, bytes: Number(big) }, problems: [] };
}

export function tighter(a: Limit, b: Limit): Limit {
  if (a.unlimited) return b;
  if (b.unlimited) return a;
  return a.bytes <= b.bytes ? a : b;
}
