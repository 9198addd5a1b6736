// Label sets made from another by one more label, and how a sink finds the parts again.
import type { Labels } from './types.js';

/** The one label a set adds to its base. Shared among the sets that add the same label (one per memory.stat item). */
export interface ExtraLabel {
  readonly key: string;
  readonly value: string;
}

const BASE: unique symbol = Symbol('memlens.labels.base');
const EXTRA: unique symbol = Symbol('memlens.labels.extra');

interface Extended {
  readonly [BASE]?: Labels;
  readonly [EXTRA]?: ExtraLabel;
}

/**
 * `base` plus `extra`, last: an ordinary label set to every reader (for-in, Object.keys/entries, JSON), which also
 * carries its two parts under symbols that are not enumerable, so that a sink that formats label sets can keep one text
 * per base and one per extra label instead of one per set (at 1000 cgroups, 16,000 sets: bench/RESULTS.md, "Peak
 * resident memory", session 5). Not `{ ...base, [key]: value }`: V8 (Node 20) gives every object built by that spread
 * at one call site a map (hidden class) of its own once the site has seen many label objects (15,000 maps at 1000
 * cgroups); Object.assign onto a literal, and the two properties defined in the same order, share one map per layout.
 * A key the base already has stays where it is in the base's order: that set is made without its parts.
 */
export function extendLabels(base: Labels, extra: ExtraLabel): Labels {
  const l = Object.assign({}, base, { [extra.key]: extra.value });
  if (Object.hasOwn(base, extra.key)) return l;
  Object.defineProperty(l, BASE, { value: base });
  Object.defineProperty(l, EXTRA, { value: extra });
  return l;
}

/** The base of a set made by extendLabels (its other labels, in order), or undefined for any other set. */
export function labelsBase(l: Labels): Labels | undefined {
  return (l as Extended)[BASE];
}

/** The label a set made by extendLabels adds to its base (undefined for any other set). */
export function labelsExtra(l: Labels): ExtraLabel | undefined {
  return (l as Extended)[EXTRA];
}
