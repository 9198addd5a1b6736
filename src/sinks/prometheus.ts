// The Prometheus sink: renders a snapshot's samples as the Prometheus text format or OpenMetrics.
//
// memlens's own families are written here, in exactly the bytes prom-client 15.1.3's Registry writes
// for the same values (test/unit/sinks/prometheus.test.ts renders the golden trees and hand-made
// edge cases both ways, in both formats, and compares byte for byte; promtool checks the goldens).
// Why not prom-client's Gauge/Counter: measured at 1000 cgroups (bench/RESULTS.md, "cgroup
// scale"), Gauge.set per series (a label hash per call) after a reset() of every metric, then the
// Registry's per-line arrays and label formatting, cost more CPU and memory than reading the
// cgroup files. Here a label set is formatted once per object (the cgroup collector keeps a cgroup's
// label objects for its life, so once per cgroup, not per scrape), and the exposition is written
// straight into one byte buffer (values digit by digit), which the HTTP route sends as it is: no line
// strings, no megabytes of text to encode to UTF-8 afterwards.
// prom-client still renders its default process_/nodejs_ metrics, appended in the order its
// Registry would have put them (after ours).
import { Registry, collectDefaultMetrics, type Metric, type RegistryContentType } from 'prom-client';
import type { Labels, MetricDesc, Sample, Snapshot } from '../model/types.js';
import { labelsBase, labelsExtra, type ExtraLabel } from '../model/labels.js';
import type { ExpositionSink } from './sink.js';
import { openFds } from '../host/selfFds.js';

export type Format = 'prometheus' | 'openmetrics';

function asFormat(format: string): Format {
  return format === 'openmetrics' ? 'openmetrics' : 'prometheus';
}

/** prom-client's escapeString (HELP text, and label values before quotes are escaped). */
function escapeString(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabelValue(s: string): string {
  return NEEDS_ESCAPE.test(s) ? escapeString(s).replace(/"/g, '\\"') : s;
}

/** `a="x",b="y"` for a label set, leaving out empty values (an empty label value means "absent"). */
function formatLabels(labels: Labels): string {
  let out = '';
  for (const k in labels) {
    const v = labels[k]!;
    if (v === '') continue;
    out += out === '' ? `${k}="${escapeLabelValue(v)}"` : `,${k}="${escapeLabelValue(v)}"`;
  }
  return out;
}

/**
 * Per label-set object, its formatted body. Collectors share one object among a cgroup's or a pid's series, and the
 * cgroup collector keeps a cgroup's objects for the cgroup's life (Sample.labels never changes once made), so at a
 * thousand cgroups a scrape formats next to no label at all. Weak: a departed cgroup's text goes with it.
 * Kept as the string when it is ASCII (every cgroup path and comm seen in practice), which the writer copies byte for
 * byte (latin1), else as its UTF-8 bytes: a string is about half what a Buffer costs (its object, 96 bytes, plus
 * the bytes in a pool slab): at 1000 cgroups, 16,000 label sets, ~1.3 MiB less that lives for good (bench/RESULTS.md,
 * "Peak resident memory", session 4).
 */
const labelText = new WeakMap<Labels, string | Buffer>();
const ASCII = /^[\x00-\x7f]*$/;

function labelsOf(l: Labels): string | Buffer {
  let b = labelText.get(l);
  if (b === undefined) {
    const t = formatLabels(l);
    b = ASCII.test(t) ? t : Buffer.from(t, 'utf8');
    labelText.set(l, b);
  }
  return b;
}

/**
 * The same for the label a set made by model/labels.ts's extendLabels adds to its base (`item="cache"`): such a set
 * is written as its base's text and this one, so no text is kept per set (16,000 at 1000 cgroups, ~2.3 MiB with their
 * WeakMap entries, for good: bench/RESULTS.md, "Peak resident memory", session 5).
 */
const extraText = new WeakMap<ExtraLabel, string | Buffer>();

function extraOf(e: ExtraLabel): string | Buffer {
  let b = extraText.get(e);
  if (b === undefined) {
    const t = e.value === '' ? '' : `${e.key}="${escapeLabelValue(e.value)}"`;
    b = ASCII.test(t) ? t : Buffer.from(t, 'utf8');
    extraText.set(e, b);
  }
  return b;
}

const NL = 10;
const SPACE = 32;
const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const COMMA = 0x2c; // ,

/** The exposition written straight into bytes: no string per line, no text of megabytes to encode afterwards. */
class ByteWriter {
  private buf: Buffer;
  private len = 0;

  /** `reuse`: a buffer whose earlier content is no longer needed (written over from the start). */
  constructor(sizeHint: number, reuse?: Buffer) {
    this.buf = reuse !== undefined && reuse.length >= sizeHint ? reuse : Buffer.allocUnsafe(Math.max(4096, sizeHint));
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.len++] = c;
  }

  /** Bytes already encoded (a cached label set, a family's sample name): a typed-array copy, no encoding. */
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A label text from labelsOf/extraOf: ASCII text, or UTF-8 bytes. */
  labels(t: string | Buffer): void {
    if (typeof t === 'string') this.ascii(t);
    else this.bytes(t);
  }

  /** Text known to be ASCII: its UTF-8 bytes are its latin1 bytes, copied without encoding. */
  ascii(s: string): void {
    this.room(s.length);
    this.len += (this.buf as unknown as { latin1Write(s: string, at: number): number }).latin1Write(s, this.len);
  }

  /** Any text, as UTF-8. */
  text(s: string): void {
    this.room(s.length * 3);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  /** `${v}`, as prom-client prints a value: integers digit by digit, anything else through the string. */
  value(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) {
      this.text(`${v}`);
      return;
    }
    let digits = 1;
    for (let t = 10; t <= v && digits < 16; t *= 10) digits++;
    this.room(digits);
    let at = this.len + digits;
    this.len = at;
    do {
      const d = v % 10;
      this.buf[--at] = 48 + d;
      v = (v - d) / 10;
    } while (v > 0);
  }

  /** The bytes written (a view of the buffer, which this writer no longer touches). */
  done(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /** The whole buffer the bytes are in (to be reused once they are sent). */
  get whole(): Buffer {
    return this.buf;
  }

  get length(): number {
    return this.len;
  }
}

/** What a family needs to be written, made once per format and desc. */
interface FamilyHead {
  readonly desc: MetricDesc;
  /** `# HELP ...\n# TYPE ...` */
  readonly head: string;
  /** The family's name (OpenMetrics: a counter's without _total). */
  readonly name: string;
  /** `\n` and the name of its samples (OpenMetrics: a counter's with _total), as bytes. */
  readonly lineStart: Buffer;
}

function familyHeads(format: Format, descs: readonly MetricDesc[]): FamilyHead[] {
  return descs.map((desc) => {
    // OpenMetrics: a counter family is named without _total and its samples with it (prom-client's
    // standardizeCounterName); histograms' samples carry their own suffixes.
    const counterOM = format === 'openmetrics' && desc.kind === 'counter';
    const name = counterOM ? desc.prom.replace(/_total$/, '') : desc.prom;
    return { desc, name, lineStart: Buffer.from(`\n${counterOM ? `${name}_total` : name}`, 'utf8'), head: `# HELP ${name} ${escapeString(desc.help)}\n# TYPE ${name} ${desc.kind}` };
  });
}

/**
 * A FamilyWriter's index arrays (4 bytes per sample each: 100 KB at 25,000 series), reused render after render: made
 * afresh they were two blocks of malloc'd memory per scrape, taken from and freed into glibc's arenas.
 */
interface Scratch {
  readonly family: Int32Array;
  readonly order: Int32Array;
}

/**
 * memlens's families as prom-client's Registry would render them, in the order of `heads` (every family, even
 * one without samples; a sample whose desc is not there is not rendered; NaN/Infinity never mean anything here:
 * "unknown" is an absent sample), each family's samples in snapshot order, families separated as prom-client
 * separates them (a blank line; OpenMetrics: none). Resumable: fill() writes until the writer holds `limit` bytes
 * and carries on from there at the next call, so that a body can be sent in pieces of one reused buffer.
 */
class FamilyWriter {
  /** Sample indexes, family by family (in snapshot order within each). */
  private readonly order: Int32Array;
  /** order[start[f] .. start[f + 1]) are family f's. */
  private readonly start: Int32Array;
  /** The next family to write, and whether its head is written. */
  private f = 0;
  private headDone = false;
  /** The next of order[] to write. */
  private k = 0;
  private readonly family: Int32Array;

  /** Its arrays, for the next writer (once this one is done with them). */
  scratch(): Scratch {
    return { family: this.family, order: this.order };
  }

  /** `scratch`: arrays of an earlier writer to reuse when they are large enough (scratch()). */
  constructor(
    private readonly format: Format,
    private readonly heads: readonly FamilyHead[],
    index: ReadonlyMap<MetricDesc, number>,
    private readonly samples: readonly Sample[],
    scratch?: Scratch,
  ) {
    // The samples of each family, in snapshot order, by a counting sort of sample indexes: no array per family.
    // Every element of `family` below samples.length and of `order` below the count is written before it is read.
    const fits = scratch !== undefined && scratch.family.length >= samples.length;
    const family = fits ? scratch.family : new Int32Array(samples.length + (samples.length >> 2));
    const start = new Int32Array(heads.length + 1);
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!;
      const f = index.get(s.desc);
      if (f === undefined || !Number.isFinite(s.value)) {
        family[i] = -1;
        continue;
      }
      family[i] = f;
      start[f + 1]!++;
    }
    for (let f = 0; f < heads.length; f++) start[f + 1]! += start[f]!;
    const next = start.slice(0, heads.length);
    const order = fits ? scratch.order : new Int32Array(family.length);
    this.family = family;
    for (let i = 0; i < samples.length; i++) {
      const f = family[i]!;
      if (f >= 0) order[next[f]!++] = i;
    }
    this.order = order;
    this.start = start;
  }

  /** Writes on until `w` holds at least `limit` bytes (checked between lines) or all is written: then true. */
  fill(w: ByteWriter, limit: number): boolean {
    const { heads, format, order, start, samples } = this;
    for (; this.f < heads.length; this.f++, this.headDone = false) {
      const f = this.f;
      const { head, name, lineStart } = heads[f]!;
      if (!this.headDone) {
        if (w.length >= limit) return false;
        if (f > 0) {
          w.byte(NL);
          if (format === 'prometheus') w.byte(NL);
        }
        w.text(head);
        this.headDone = true;
        this.k = start[f]!;
      }
      const end = start[f + 1]!;
      for (let k = this.k; k < end; k++) {
        if (w.length >= limit) {
          this.k = k;
          return false;
        }
        const s = samples[order[k]!]!;
        const base = labelsBase(s.labels);
        if (s.histogram === undefined) {
          w.bytes(lineStart);
          if (base === undefined) {
            const lb = labelsOf(s.labels);
            if (lb.length > 0) {
              w.byte(OPEN);
              w.labels(lb);
              w.byte(CLOSE);
            }
          } else {
            const lb = labelsOf(base);
            const le = extraOf(labelsExtra(s.labels)!);
            if (lb.length > 0 || le.length > 0) {
              w.byte(OPEN);
              w.labels(lb);
              if (lb.length > 0 && le.length > 0) w.byte(COMMA);
              w.labels(le);
              w.byte(CLOSE);
            }
          }
          w.byte(SPACE);
          w.value(s.value);
          continue;
        }
        const lb = base === undefined ? labelsOf(s.labels) : formatLabels(s.labels);
        const l = typeof lb === 'string' ? lb : lb.toString('utf8');
        // A histogram whose state lives elsewhere (the watcher keeps it) arrives as one sample.
        const lc = l === '' ? '' : `${l},`;
        const { bucketCounts, sum, count } = s.histogram;
        let text = '';
        (s.desc.buckets ?? []).forEach((le, i) => {
          text += `\n${name}_bucket{${lc}le="${le}"} ${bucketCounts[i] ?? count}`;
        });
        text += `\n${name}_bucket{${lc}le="+Inf"} ${count}`;
        text += l === '' ? `\n${name}_sum ${sum}\n${name}_count ${count}` : `\n${name}_sum{${l}} ${sum}\n${name}_count{${l}} ${count}`;
        w.text(text);
      }
      this.k = end;
    }
    return true;
  }
}

function writeFamilies(w: ByteWriter, format: Format, heads: readonly FamilyHead[], index: ReadonlyMap<MetricDesc, number>, samples: readonly Sample[]): void {
  new FamilyWriter(format, heads, index, samples).fill(w, Infinity);
}

/** memlens's families as text, exactly the part of the exposition before prom-client's default metrics (tests). */
export function encodeFamilies(format: Format, descs: readonly MetricDesc[], samples: readonly Sample[]): string {
  const w = new ByteWriter(samples.length * 100);
  writeFamilies(w, format, familyHeads(format, descs), new Map(descs.map((d, i) => [d, i])), samples);
  return w.done().toString('utf8');
}

/**
 * prom-client's process_open_fds lists /proc/self/fd on every render: about 3000 entries with 500 watched v1 cgroups,
 * 3-4 ms of CPU per scrape. Its gauge is kept (name, help, place in the registry) and only its collect() is
 * replaced by host/selfFds.ts's count, which is the listing's where the kernel gives it without one (6.2+).
 */
function countOpenFdsCheaply(registry: Registry<RegistryContentType>): void {
  const gauge = registry.getSingleMetric('process_open_fds') as unknown as { collect?: () => void; set(value: number): void } | undefined;
  if (gauge?.collect === undefined) return;
  gauge.collect = function (this: { set(value: number): void }): void {
    // As prom-client: when the count cannot be had, the gauge keeps its last value.
    const n = openFds();
    if (n !== undefined) this.set(n);
  };
}

/**
 * The piece a streamed body is written in: one buffer per format, reused scrape after scrape (memory fresh from the
 * kernel costs a page fault per 4 KiB on first touch). 128 KiB: a 3 MB exposition in 25 pieces, each handed to the
 * socket before the next is written.
 */
export const STREAM_CHUNK_BYTES = 128 * 1024;

/** One rendered snapshot: its body, and how many callers still send it. */
interface Rendered {
  /**
   * Weakly held: the runner keeps a snapshot for --collect.min-interval only (collectors/runner.ts), and a strong
   * reference here would keep its samples alive into the next collection (peak resident memory).
   */
  readonly snapshot: WeakRef<object>;
  readonly body: Promise<Buffer>;
  /** The writer's whole buffer and the body's view of it, once written. */
  whole: Buffer | undefined;
  view: Buffer | undefined;
  senders: number;
}

class FormatSink {
  private readonly registry: Registry<RegistryContentType>;
  private readonly openMetrics: boolean;
  private readonly heads: readonly FamilyHead[];
  private readonly index: ReadonlyMap<MetricDesc, number>;
  private rendered: Rendered | undefined;
  /** Bodies handed out and not yet done(), by their bytes. */
  private readonly out = new Map<Buffer, Rendered>();
  /**
   * A buffer that no one sends any more, written over by the next render. A body is megabytes at a thousand
   * cgroups, and memory fresh from the kernel costs a page fault per 4 KiB on first touch (25 us each on the
   * VMs the bench ran on: bench/RESULTS.md, "Cgroup scale"); reusing one buffer keeps its pages.
   */
  private spare: Buffer | undefined;
  /** The last body's size: the next one is written into a buffer of about that size at once. */
  private lastBytes = 0;
  /** stream()'s buffer between streams (a stream takes it; one that starts while another runs makes its own). */
  private chunk: Buffer | undefined;
  /** stream()'s FamilyWriter arrays between streams, taken and given back as `chunk` is. */
  private scratch: Scratch | undefined;

  /** `defaults`: the registry of prom-client's default metrics, whose metric objects this format renders too. */
  constructor(
    private readonly format: Format,
    descs: readonly MetricDesc[],
    defaults: Registry<RegistryContentType>,
  ) {
    this.openMetrics = format === 'openmetrics';
    if (defaults.contentType === (this.openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE)) this.registry = defaults;
    else {
      this.registry = new Registry();
      if (this.openMetrics) this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
      // prom-client types getMetricsAsArray() as plain objects; they are the registered Metric instances.
      for (const m of defaults.getMetricsAsArray()) this.registry.registerMetric(m as unknown as Metric);
    }
    this.heads = familyHeads(format, descs);
    this.index = new Map(descs.map((d, i) => [d, i]));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Renders a snapshot; the same snapshot asked for twice is rendered once. The caller says done(body) once the
   * bytes are sent (or not needed): then, once a newer snapshot is rendered, their buffer is written over. A
   * caller that never says it just leaves the buffer to the garbage collector.
   */
  body(snapshot: object, samples: readonly Sample[]): Promise<Buffer> {
    let r = this.rendered;
    if (r?.snapshot.deref() !== snapshot) {
      if (r !== undefined) this.retire(r);
      r = this.render(snapshot, samples);
      this.rendered = r;
    }
    r.senders++;
    return r.body;
  }

  done(body: Buffer): void {
    const r = this.out.get(body);
    if (r === undefined) return;
    r.senders--;
    if (r !== this.rendered) this.retire(r);
  }

  /**
   * Renders a snapshot piece by piece into one reused buffer of `chunkBytes`, handing each piece to `write` (`last`
   * for the final one) and writing the next only once that promise has resolved (the caller is done with the bytes then): the same bytes
   * as body(), without a buffer of the whole exposition (megabytes at a thousand cgroups, resident between
   * scrapes and at the peak of each: bench/RESULTS.md, "Peak resident memory"). If `write` rejects, so does this,
   * and the buffer is left to the garbage collector (the socket may still hold it).
   */
  async stream(samples: readonly Sample[], write: (piece: Buffer, last: boolean) => Promise<void>, chunkBytes = STREAM_CHUNK_BYTES): Promise<void> {
    const defaults = await this.defaults();
    let buf = this.chunk !== undefined && this.chunk.length >= chunkBytes ? this.chunk : Buffer.allocUnsafe(chunkBytes);
    this.chunk = undefined;
    const families = new FamilyWriter(this.format, this.heads, this.index, samples, this.scratch);
    this.scratch = undefined;
    for (;;) {
      const w = new ByteWriter(0, buf);
      const last = families.fill(w, chunkBytes);
      if (last) this.writeDefaults(w, defaults);
      buf = w.whole;
      await write(w.done(), last);
      if (last) break;
    }
    this.chunk = buf;
    this.scratch = families.scratch();
  }

  /** prom-client's default process_/nodejs_ families. */
  private async defaults(): Promise<string> {
    const defaults = await this.registry.metrics();
    // prom-client prints NaN as "Nan" (its default nodejs_eventloop_lag_* before the first sample): spell it NaN.
    return defaults.includes(' Nan\n') ? defaults.replace(/ Nan$/gm, ' NaN') : defaults;
  }

  /** After memlens's families: the default ones, separated as prom-client's Registry separates families. */
  private writeDefaults(w: ByteWriter, defaults: string): void {
    if (this.heads.length > 0) {
      w.byte(NL);
      if (!this.openMetrics) w.byte(NL);
    }
    w.text(defaults);
  }

  private render(snapshot: object, samples: readonly Sample[]): Rendered {
    // Every collection is a fresh set of series: departed pids and cgroups disappear.
    const w = new ByteWriter(this.lastBytes + (this.lastBytes >> 4), this.spare);
    this.spare = undefined;
    writeFamilies(w, this.format, this.heads, this.index, samples);
    const r: Rendered = {
      snapshot: new WeakRef(snapshot), senders: 0, whole: undefined, view: undefined,
      body: this.defaults().then((defaults) => {
        this.writeDefaults(w, defaults);
        this.lastBytes = w.length;
        const view = w.done();
        r.whole = w.whole;
        r.view = view;
        this.out.set(view, r);
        return view;
      }),
    };
    return r;
  }

  /** A body no longer the current one: its buffer becomes the spare once no one sends it. */
  private retire(r: Rendered): void {
    if (r.senders > 0 || r.view === undefined) return;
    this.out.delete(r.view);
    if (r.whole !== undefined && (this.spare === undefined || this.spare.length < r.whole.length)) this.spare = r.whole;
    r.whole = undefined;
    r.view = undefined;
  }
}

export class PrometheusSink implements ExpositionSink {
  private readonly sinks: Record<Format, FormatSink>;

  constructor(descs: readonly MetricDesc[]) {
    // One set of prom-client's default metrics (their event-loop delay histogram, GC observer, ...: ~0.7 MiB
    // each), rendered by both formats: a registry per format holds the same metric objects.
    const defaults = new Registry();
    // The event-loop delay histogram's timer: 100 ms, not prom-client's 10 ms, which alone woke memlens ~100 times a
    // second when idle (README "Metrics").
    collectDefaultMetrics({ register: defaults, eventLoopMonitoringPrecision: 100 });
    countOpenFdsCheaply(defaults);
    this.sinks = { prometheus: new FormatSink('prometheus', descs, defaults), openmetrics: new FormatSink('openmetrics', descs, defaults) };
  }

  /** The format a scraper asked for in its Accept header. */
  static negotiate(accept: string | undefined): Format {
    return accept !== undefined && accept.includes('application/openmetrics-text') ? 'openmetrics' : 'prometheus';
  }

  negotiate(accept: string | undefined): Format {
    return PrometheusSink.negotiate(accept);
  }

  contentType(format: string): string {
    return this.sinks[asFormat(format)].contentType;
  }

  body(format: string, snapshot: Snapshot, samples: readonly Sample[] = snapshot.samples): Promise<Buffer> {
    return this.sinks[asFormat(format)].body(snapshot, samples);
  }

  done(format: string, body: Buffer): void {
    this.sinks[asFormat(format)].done(body);
  }

  stream(format: string, snapshot: Snapshot, write: (piece: Buffer, last: boolean) => Promise<void>, chunkBytes?: number): Promise<void> {
    return this.sinks[asFormat(format)].stream(snapshot.samples, write, chunkBytes);
  }

  async render(format: string, snapshot: Snapshot, samples: readonly Sample[] = snapshot.samples): Promise<string> {
    const body = await this.body(format, snapshot, samples);
    const text = body.toString('utf8');
    this.done(format, body);
    return text;
  }
}
