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
import { Registry, collectDefaultMetrics, type RegistryContentType } from 'prom-client';
import type { Labels, MetricDesc, Sample, Snapshot } from '../model/types.js';
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
 * Per label-set object, its formatted body as UTF-8 bytes. Collectors share one object among a cgroup's or a
 * pid's series, and the cgroup collector keeps a cgroup's objects for the cgroup's life (Sample.labels never
 * changes once made), so at a thousand cgroups a scrape formats and encodes next to no label at all. Weak: a
 * departed cgroup's text goes with it.
 */
const labelBytes = new WeakMap<Labels, Buffer>();
const NO_LABELS = Buffer.alloc(0);

function labelsOf(l: Labels): Buffer {
  let b = labelBytes.get(l);
  if (b === undefined) {
    const t = formatLabels(l);
    b = t === '' ? NO_LABELS : Buffer.from(t, 'utf8');
    labelBytes.set(l, b);
  }
  return b;
}

const NL = 10;
const SPACE = 32;
const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }

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
 * memlens's families as prom-client's Registry would render them, in the order of `heads` (every family, even
 * one without samples; a sample whose desc is not there is not rendered; NaN/Infinity never mean anything here:
 * "unknown" is an absent sample), each family's samples in snapshot order, families separated as prom-client
 * separates them (a blank line; OpenMetrics: none).
 */
function writeFamilies(w: ByteWriter, format: Format, heads: readonly FamilyHead[], index: ReadonlyMap<MetricDesc, number>, samples: readonly Sample[]): void {
  // The samples of each family, in snapshot order, by a counting sort of sample indexes: no array per family.
  const family = new Int32Array(samples.length);
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
  const order = new Int32Array(start[heads.length]!);
  for (let i = 0; i < samples.length; i++) {
    const f = family[i]!;
    if (f >= 0) order[next[f]!++] = i;
  }
  for (let f = 0; f < heads.length; f++) {
    const { head, name, lineStart } = heads[f]!;
    if (f > 0) {
      w.byte(NL);
      if (format === 'prometheus') w.byte(NL);
    }
    w.text(head);
    for (let k = start[f]!; k < start[f + 1]!; k++) {
      const s = samples[order[k]!]!;
      const lb = labelsOf(s.labels);
      if (s.histogram === undefined) {
        w.bytes(lineStart);
        if (lb.length > 0) {
          w.byte(OPEN);
          w.bytes(lb);
          w.byte(CLOSE);
        }
        w.byte(SPACE);
        w.value(s.value);
        continue;
      }
      const l = lb.toString('utf8');
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
  }
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

  constructor(
    private readonly format: Format,
    descs: readonly MetricDesc[],
  ) {
    this.openMetrics = format === 'openmetrics';
    this.registry = new Registry();
    if (this.openMetrics) this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    // The event-loop delay histogram's timer: 100 ms, not prom-client's 10 ms, which alone woke memlens ~100 times a
    // second when idle (README "Metrics").
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    countOpenFdsCheaply(this.registry);
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

  private render(snapshot: object, samples: readonly Sample[]): Rendered {
    // Every collection is a fresh set of series: departed pids and cgroups disappear.
    const w = new ByteWriter(this.lastBytes + (this.lastBytes >> 4), this.spare);
    this.spare = undefined;
    writeFamilies(w, this.format, this.heads, this.index, samples);
    const r: Rendered = {
      snapshot: new WeakRef(snapshot), senders: 0, whole: undefined, view: undefined,
      body: this.registry.metrics().then((defaults) => {
        // prom-client prints NaN as "Nan" (its default nodejs_eventloop_lag_* before the first sample): spell it NaN.
        const d = defaults.includes(' Nan\n') ? defaults.replace(/ Nan$/gm, ' NaN') : defaults;
        if (this.heads.length > 0) {
          w.byte(NL);
          if (!this.openMetrics) w.byte(NL);
        }
        w.text(d);
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
    this.sinks = { prometheus: new FormatSink('prometheus', descs), openmetrics: new FormatSink('openmetrics', descs) };
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

  async render(format: string, snapshot: Snapshot, samples: readonly Sample[] = snapshot.samples): Promise<string> {
    const body = await this.body(format, snapshot, samples);
    const text = body.toString('utf8');
    this.done(format, body);
    return text;
  }
}
