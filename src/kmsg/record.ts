// Parsers for one kernel log record, in the two forms memlens reads:
//
// - /dev/kmsg (Documentation/ABI/testing/dev-kmsg): one read() returns one record,
//   `prio,seq,usec,flags[,more...];text\n` followed by optional dictionary lines that start
//   with a space (` SUBSYSTEM=usb\n DEVICE=c189:1\n`). The kernel escapes every byte below
//   0x20, at or above 0x7f, and the backslash itself as `\xNN` in the text and the dictionary
//   values, so unescaping is unambiguous. With CONFIG_PRINTK_CALLER (5.1+) one of the extra
//   comma fields is `caller=T123` (task) or `caller=C1` (CPU).
// - `dmesg` output: `[  123.456789] text`, optionally `<4>` before it (`dmesg -r`), optionally
//   `[ T3106]` after it (CONFIG_PRINTK_CALLER), or plain text with no prefix at all.
//
// Pure functions: no IO, never throw. Garbage gives `undefined` (kmsg) or a text-only line (dmesg).
//
// seq and usec are u64 in the kernel. We keep them as `number` and reject a record whose seq or
// usec is not a safe integer (> 2^53 - 1): seq counts records since boot and usec counts
// microseconds since boot, and reaching 2^53 needs ~285 years of uptime at one record per
// microsecond, so such a value means corrupt input, not a real record. A `number` keeps the
// record cheap to compare and to feed into OomReportParser, which takes numbers.

export interface KmsgRecord {
  /** syslog facility: prio >> 3 (0 = kernel). */
  readonly facility: number;
  /** syslog level: prio & 7 (0 = emerg ... 7 = debug). */
  readonly level: number;
  /** Record sequence number; a gap between two reads means records were overwritten. */
  readonly seq: number;
  /** CLOCK_MONOTONIC timestamp of the record, microseconds since boot. */
  readonly usecMonotonic: number;
  /** '-' for a whole record, 'c' / '+' for continuation fragments on older kernels. */
  readonly flags: string;
  /** `caller=` field (CONFIG_PRINTK_CALLER, 5.1+): `T<tid>` or `C<cpu>`. Omitted when absent. */
  readonly caller?: string;
  /** Message text, `\xNN` escapes decoded (UTF-8): may hold control characters; never a label value as it is. */
  readonly text: string;
  /** Message text exactly as the kernel printed it, escapes kept: one line, no control characters. */
  readonly rawText: string;
  /** Dictionary from the continuation lines (` KEY=value`), values unescaped. */
  readonly dict: Readonly<Record<string, string>>;
}

export interface DmesgLine {
  readonly text: string;
  /** From the `[sec.usec]` prefix; omitted when the line has none. */
  readonly usecMonotonic?: number;
  /** From a `<prio>` prefix (`dmesg -r`); omitted when absent. */
  readonly level?: number;
  readonly facility?: number;
  /** From a `[ T123]` prefix (CONFIG_PRINTK_CALLER); omitted when absent. */
  readonly caller?: string;
}

const HEADER = /^(\d{1,10}),(\d{1,20}),(\d{1,20}),([^,;]*)((?:,[^;]*)?);/;
const ESCAPE_RUN = /(?:\\x[0-9a-fA-F]{2})+/g;
const utf8 = new TextDecoder('utf-8', { fatal: false });

function safeInt(digits: string): number | undefined {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Decode the kernel's `\xNN` escapes; runs of escapes are decoded together as UTF-8 bytes. */
export function unescapeKmsg(s: string): string {
  if (!s.includes('\\x')) return s;
  return s.replace(ESCAPE_RUN, (run) => {
    const bytes = new Uint8Array(run.length / 4);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 4 + 2, i * 4 + 4), 16);
    return utf8.decode(bytes);
  });
}

/**
 * Parse what one read() of /dev/kmsg returned. Only one record per call: a second
 * non-continuation line makes the input garbage (use `splitKmsgRecords` for a dump).
 */
export function parseKmsgRecord(raw: string): KmsgRecord | undefined {
  if (typeof raw !== 'string') return undefined;
  const lines = raw.split('\n');
  const first = lines[0];
  if (first === undefined) return undefined;
  const m = HEADER.exec(first);
  if (m === null) return undefined;
  const [head, prioS, seqS, usecS, flags, moreS] = m;
  if (prioS === undefined || seqS === undefined || usecS === undefined || flags === undefined) return undefined;
  const prio = safeInt(prioS);
  const seq = safeInt(seqS);
  const usecMonotonic = safeInt(usecS);
  if (prio === undefined || seq === undefined || usecMonotonic === undefined) return undefined;

  let caller: string | undefined;
  for (const field of (moreS ?? '').split(',')) {
    if (field.startsWith('caller=')) caller = field.slice('caller='.length);
  }

  const entries: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === undefined || line === '') continue;
    if (!line.startsWith(' ')) return undefined;
    const eq = line.indexOf('=');
    if (eq <= 1) continue; // a dictionary line without a key: ignore it, keep the record
    entries.push([line.slice(1, eq), unescapeKmsg(line.slice(eq + 1))]);
  }

  const rawText = first.slice(head.length).replace(/\r$/, '');
  const text = unescapeKmsg(rawText);
  const base = {
    facility: Math.floor(prio / 8),
    level: prio % 8,
    seq,
    usecMonotonic,
    flags,
    text,
    rawText,
    // fromEntries defines own properties, so a `__proto__` key cannot touch the prototype.
    dict: Object.fromEntries(entries),
  };
  return caller === undefined ? base : { ...base, caller };
}

/** Split a dump of /dev/kmsg records (one per line, continuation lines start with a space). */
export function splitKmsgRecords(dump: string): string[] {
  const out: string[] = [];
  for (const line of dump.split('\n')) {
    if (line.startsWith(' ') && out.length > 0) out[out.length - 1] += '\n' + line;
    else if (line !== '') out.push(line);
  }
  return out;
}

const DMESG = /^(?:<(\d{1,10})>)?\[\s*(\d{1,12})\.(\d{1,9})\](?:\s?\[\s*([TC]\d{1,10})\])?(?: |$)/;

/** Parse one line of `dmesg` output. Never fails: a line without a prefix is all text. */
export function parseDmesgLine(line: string): DmesgLine {
  if (typeof line !== 'string') return { text: '' };
  const clean = line.replace(/\r?\n$/, '').replace(/\r$/, '');
  const m = DMESG.exec(clean);
  if (m === null) return { text: clean };
  const [whole, prioS, secS, fracS, caller] = m;
  if (secS === undefined || fracS === undefined) return { text: clean };
  // dmesg prints %5lu.%06lu; pad or cut the fraction to microseconds without float rounding.
  const usec = Number(secS) * 1_000_000 + Number(fracS.padEnd(6, '0').slice(0, 6));
  let out: DmesgLine = { text: clean.slice(whole.length) };
  if (Number.isSafeInteger(usec)) out = { ...out, usecMonotonic: usec };
  if (prioS !== undefined) {
    const prio = Number(prioS);
    out = { ...out, facility: Math.floor(prio / 8), level: prio % 8 };
  }
  if (caller !== undefined) out = { ...out, caller };
  return out;
}
