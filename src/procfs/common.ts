// Shared line formats of /proc and cgroupfs files. Pure: no IO, never throws on odd text.
import { ParseError } from '../errors.js';

export interface Parsed<T> {
  value: T;
  problems: ParseError[];
}

const KB = 1024;
const KEY = /^[A-Za-z][A-Za-z0-9_()]*$/;

/**
 * `Key:   1234 kB` lines (/proc/PID/status, smaps_rollup, /proc/meminfo). Values with a `kB`
 * unit are converted to bytes here, once; values without a unit are kept as they are.
 * Lines without a number (Name:, State:, Cpus_allowed: ...) are skipped unless `keep` asks for
 * their text. Only keys in `wanted` are parsed when given (status has ~55 lines, we want ~10).
 */
export function parseKbFields(
  text: string,
  path: string,
  wanted?: ReadonlySet<string>,
): Parsed<Map<string, number>> {
  const out = new Map<string, number>();
  const problems: ParseError[] = [];
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const colon = text.indexOf(':', start);
    if (colon > start && colon < end) {
      const key = text.slice(start, colon);
      if (wanted === undefined || wanted.has(key)) {
        const rest = text.slice(colon + 1, end).trim();
        const m = /^(\d+)(?:\s+kB)?$/.exec(rest);
        if (m !== null && m[1] !== undefined) {
          const n = Number(m[1]);
          out.set(key, rest.endsWith('kB') ? n * KB : n);
        } else if (wanted !== undefined || KEY.test(key)) {
          // A `Key: value` line whose value is not a number is malformed (the smaps_rollup
          // header `addr-addr ---p 00000000 00:00 0 [rollup]` is not a key: it has spaces).
          problems.push(new ParseError(`${key}: not a number: ${JSON.stringify(rest.slice(0, 40))}`, path, lineNo));
        }
      }
    }
    start = end + 1;
  }
  return { value: out, problems };
}

/** The text after `Key:` (e.g. `Name:\tcat`), or undefined. */
export function textField(text: string, key: string): string | undefined {
  let at: number;
  if (text.startsWith(`${key}:`)) at = 0;
  else {
    const i = text.indexOf(`\n${key}:`);
    if (i < 0) return undefined;
    at = i + 1;
  }
  let end = text.indexOf('\n', at);
  if (end < 0) end = text.length;
  return text.slice(at + key.length + 1, end).trim();
}

/**
 * `key value` lines (/proc/vmstat, memory.stat, memory.events, oom_control). Unknown keys are
 * kept (callers pick what they know); a line that is not `word number` is a problem, not a throw.
 */
export function parseFlatKeyed(text: string, path: string): Parsed<Map<string, number>> {
  const out = new Map<string, number>();
  const problems: ParseError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const m = /^(\S+)\s+(-?\d+)$/.exec(line);
    if (m === null || m[1] === undefined || m[2] === undefined) {
      problems.push(new ParseError(`not "key value": ${JSON.stringify(line.slice(0, 60))}`, path, i + 1));
      continue;
    }
    out.set(m[1], Number(m[2]));
  }
  return { value: out, problems };
}

/** A file holding one integer (memory.usage_in_bytes, oom_score). */
export function parseSingleInt(text: string, path: string): Parsed<number | undefined> {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return { value: Number(t), problems: [] };
  return { value: undefined, problems: [new ParseError(`not an integer: ${JSON.stringify(t.slice(0, 40))}`, path, 1)] };
}

/**
 * The fast path of parseKbFields for files read for every process on every collection: one
 * pass, a Map lookup per `Key:` line, digits parsed in place, only `wanted` keys kept. A wanted
 * line that is not `Key: N kB` is a problem.
 */
export function scanKbFields(text: string, path: string, wanted: ReadonlySet<string>, problems: ParseError[]): Map<string, number> {
  const out = new Map<string, number>();
  let line = 0;
  for (let start = 0; start < text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', start);
    if (colon > start && colon < end) {
      const key = text.slice(start, colon);
      if (wanted.has(key)) {
        let i = colon + 1;
        while (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9) i++;
        const digits = i;
        let n = 0;
        for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) n = n * 10 + (c - 48);
        if (i > digits && i + 3 === end && text.startsWith(' kB', i)) out.set(key, n * KB);
        else problems.push(new ParseError(`not "Key: N kB": ${JSON.stringify(text.slice(start, end).slice(0, 40))}`, path, line + 1));
      }
    }
    start = end + 1;
  }
  return out;
}
