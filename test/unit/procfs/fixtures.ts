// Reads files of the fixture trees (test/fixtures/v1, test/fixtures/v2) from the compiled tests.
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ParseError } from '../../../src/errors.js';
import { fileURLToPath } from 'node:url';

/** test/fixtures/ of the repository, from build/test/unit/<area>/. */
export const fixturesDir = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));

/** [text, path] of a file of a fixture tree, e.g. fixture('v1', 'proc/8467/status'). */
export function fixture(tree: 'v1' | 'v2', rel: string): [string, string] {
  const path = `${fixturesDir}${tree}/${rel}`;
  return [readFileSync(path, 'utf8'), path];
}

/** The pid of the one process directory of each tree (the Pid: of the captured status). */
export const PID = { v1: 8467, v2: 483 } as const;

export const kB = (n: number): number => n * 1024;

/** Mutations of a real file for property tests: truncation, cut, insertion, line shuffles, digit damage. */
import fc from 'fast-check';

export function mutated(text: string): fc.Arbitrary<string> {
  const n = text.length;
  const lines = text.split('\n');
  const junk = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('\0', ':', ' kB', '\t', '-', '=', 'max', '\n\n', '9'.repeat(400), '-1', 'total=', '\\040', '\uFFFD'));
  return fc.oneof(
    fc.nat({ max: n }).map((i) => text.slice(0, i)),
    fc.tuple(fc.nat({ max: n }), fc.nat({ max: 200 })).map(([i, len]) => text.slice(0, i) + text.slice(i + len)),
    fc.tuple(fc.nat({ max: n }), junk).map(([i, s]) => text.slice(0, i) + s + text.slice(i)),
    fc.tuple(fc.nat({ max: lines.length - 1 }), junk).map(([i, s]) => lines.map((l, j) => (j === i ? s : l)).join('\n')),
    fc.shuffledSubarray(lines).map((ls) => ls.join('\n')),
    fc.array(fc.nat({ max: Math.max(0, n - 1) }), { maxLength: 20 }).map((idx) => {
      const chars = [...text];
      for (const i of idx) if (chars[i] !== undefined && /\d/.test(chars[i])) chars[i] = 'x';
      return chars.join('');
    }),
    fc.constant(text.replace(/\n/g, '\r\n')),
    fc.string({ maxLength: 300, unit: 'binary' }),
  );
}

export type FuzzedParser = (text: string, path: string) => { problems: readonly ParseError[] };

/**
 * For each parser: random strings and random damage to its real files never throw, and every
 * problem it reports is a parse error carrying `path`.
 */
export function neverThrows(parsers: readonly [string, FuzzedParser, [string, string][]][], path: string): void {
  const check = (parse: FuzzedParser, text: string): void => {
    for (const p of parse(text, path).problems) {
      assert.equal(p.path, path);
      assert.equal(p.code, 'MEMLENS_ERR_PARSE');
    }
  };
  for (const [name, parse, files] of parsers) {
    test(`${name}: random strings never throw`, () => {
      fc.assert(fc.property(fc.string({ maxLength: 500 }), (s) => check(parse, s)), { numRuns: 300 });
      fc.assert(fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (s) => check(parse, s)), { numRuns: 200 });
    });
    test(`${name}: random damage to the real files never throws`, () => {
      for (const [text] of files) fc.assert(fc.property(mutated(text), (s) => check(parse, s)), { numRuns: 300 });
    });
  }
}
