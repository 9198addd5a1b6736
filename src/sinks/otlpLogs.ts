// OOM kills and early-warning threshold crossings as OTLP log records (@opentelemetry/sdk-logs,
// OTLP/HTTP JSON or protobuf), so a fleet's kills land in one log store.
//
// A record's time is the kernel's (an OOM kill: boot time + the kmsg record's monotonic usec;
// a crossing: when memlens handled the notification); its fields are attributes.
//
// A restart neither loses nor re-sends a kill: the boot id (/proc/sys/kernel/random/boot_id) and
// kmsg sequence number of the newest exported kill are kept in the state directory
// (--snapshot.dir, otlp-logs-state.json, 0600). The kernel ring read back at start replays
// older kills: those at or below the saved sequence of the same boot are skipped; the state
// advances only when the receiver has accepted the kill, so a kill whose export failed is sent
// again by the next memlens if the ring still holds it.
import { SeverityNumber, type LogAttributes, type Logger as OtelLogger } from '@opentelemetry/api-logs';
import { ExportResultCode } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { join } from 'node:path';
import type { OtlpSignalConfig } from '../config/otlp.js';
import type { Logger } from '../log.js';
import { describe, errnoCode } from '../errors.js';
import type { OomKillRecord } from '../oom/store.js';
import type { WatchEvent } from '../watch/bus.js';
import { cgroupLabels } from '../collectors/cgroup.js';
import { pointAttributes, type ExportStats } from './otlp.js';
import { readPrivateFile, writePrivateFileAtomic } from '../forensics/privateDir.js';

export const STATE_FILE = 'otlp-logs-state.json';
const SEQ = 'memlens.kmsg.seq';
const BOOT = 'memlens.kmsg.boot_id';

/** The newest kill the receiver accepted. */
export interface LogState {
  bootId: string;
  seq: number;
}

function parseState(text: string): LogState | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return undefined;
    const { bootId, seq } = v as Record<string, unknown>;
    return typeof bootId === 'string' && typeof seq === 'number' && Number.isSafeInteger(seq) ? { bootId, seq } : undefined;
  } catch {
    return undefined;
  }
}

export function logExporter(cfg: OtlpSignalConfig): LogRecordExporter {
  const opts = { url: cfg.url, headers: cfg.headers, timeoutMillis: cfg.timeoutMs };
  return cfg.protocol === 'http/protobuf' ? new ProtoLogExporter(opts) : new JsonLogExporter(opts);
}

/** Record attributes: only the fields the kernel gave (an absent field is absent, never 0). */
function put(attrs: LogAttributes, key: string, v: string | number | undefined): void {
  if (v !== undefined && v !== '') attrs[key] = v;
}

export interface OtlpLogSinkOptions {
  config: OtlpSignalConfig;
  resource: Resource;
  version: string;
  stats: ExportStats;
  log: Logger;
  /** Where the last exported kill is kept (the snapshot directory). */
  stateDir: string;
  /** This boot's id; undefined when unreadable (then kills read back at start may be sent again). */
  bootId: string | undefined;
  /** Tests: an exporter instead of the OTLP/HTTP one built from config. */
  exporter?: LogRecordExporter;
  /** BatchLogRecordProcessor delay (default 1 s). */
  scheduledDelayMs?: number;
}

export class OtlpLogSink {
  private readonly provider: LoggerProvider;
  private readonly logger: OtelLogger;
  private state: LogState | undefined;
  private stateFailing = false;
  /** Kills skipped because an earlier memlens already exported them (tests, logs). */
  skipped = 0;

  constructor(private readonly opts: OtlpLogSinkOptions) {
    try {
      const text = readPrivateFile(join(opts.stateDir, STATE_FILE), 4096);
      this.state = parseState(text);
      if (this.state === undefined) opts.log.warn({ dir: opts.stateDir, file: STATE_FILE }, 'OTLP logs: unreadable state file ignored (kills still in the kernel ring may be sent again)');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') opts.log.warn({ dir: opts.stateDir, file: STATE_FILE, err: describe(err) }, 'OTLP logs: cannot read the state file (kills still in the kernel ring may be sent again)');
    }
    if (opts.bootId === undefined) opts.log.warn('OTLP logs: no boot id: kills still in the kernel ring at a restart may be sent again');
    const inner = opts.exporter ?? logExporter(opts.config);
    const exporter: LogRecordExporter = {
      export: (records, done) => {
        inner.export(records, (result) => {
          opts.stats.record('logs', result, opts.config.url);
          if (result.code === ExportResultCode.SUCCESS) this.accepted(records);
          done(result);
        });
      },
      forceFlush: () => inner.forceFlush(),
      shutdown: () => inner.shutdown(),
    };
    this.provider = new LoggerProvider({
      resource: opts.resource,
      processors: [new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: opts.scheduledDelayMs ?? 1000, exportTimeoutMillis: opts.config.timeoutMs })],
    });
    this.logger = this.provider.getLogger('memlens', opts.version);
  }

  /** store.onKill, after the snapshot link: one ERROR record per kill from the kernel log. */
  kill(r: OomKillRecord): void {
    if (r.source !== 'kmsg') return;
    const { bootId } = this.opts;
    if (bootId !== undefined && r.kernelSeq !== undefined && this.state?.bootId === bootId && r.kernelSeq <= this.state.seq) {
      this.skipped++;
      this.opts.log.debug({ oom: r.id, seq: r.kernelSeq }, 'OTLP logs: kill already exported before this start');
      return;
    }
    const attrs: LogAttributes = { 'memlens.oom.id': r.id, 'process.pid': r.victim.pid, 'memlens.oom.comm': r.victim.comm };
    if (r.cgroup !== undefined) Object.assign(attrs, pointAttributes(cgroupLabels(r.cgroup)));
    delete attrs['cgroup'];
    put(attrs, 'memlens.cgroup', r.cgroup);
    put(attrs, 'memlens.oom.oom_cgroup', r.oomCgroup);
    put(attrs, 'memlens.oom.constraint', r.constraint?.replace(/^CONSTRAINT_/, '').toLowerCase());
    put(attrs, 'memlens.oom.uid', r.victim.uid);
    put(attrs, 'memlens.oom.anon_rss_bytes', r.anonRssBytes);
    put(attrs, 'memlens.oom.file_rss_bytes', r.fileRssBytes);
    put(attrs, 'memlens.oom.shmem_rss_bytes', r.shmemRssBytes);
    put(attrs, 'memlens.oom.total_vm_bytes', r.totalVmBytes);
    put(attrs, 'memlens.oom.page_tables_bytes', r.pageTablesBytes);
    put(attrs, 'memlens.oom.oom_score_adj', r.oomScoreAdj);
    put(attrs, 'memlens.oom.memcg_usage_bytes', r.memcg?.usageBytes);
    put(attrs, 'memlens.oom.memcg_limit_bytes', r.memcg === undefined || r.memcg.limitBytes === 'max' ? undefined : r.memcg.limitBytes);
    put(attrs, 'memlens.oom.invoker_comm', r.invoker?.comm);
    put(attrs, 'memlens.oom.invoker_pid', r.invoker?.pid);
    put(attrs, 'memlens.snapshot.id', r.snapshotId);
    put(attrs, SEQ, r.kernelSeq);
    put(attrs, BOOT, bootId);
    const limit = r.oomCgroup !== undefined && r.oomCgroup !== r.cgroup ? `, limit of ${r.oomCgroup}` : '';
    this.logger.emit({
      eventName: 'memlens.oom_kill',
      timestamp: r.timeMs,
      observedTimestamp: Date.now(),
      severityNumber: SeverityNumber.ERROR,
      severityText: 'ERROR',
      body: `OOM kill: pid ${r.victim.pid} (${r.victim.comm}) in ${r.cgroup ?? 'an unknown cgroup'}${limit}${r.snapshotId === undefined ? '' : `; snapshot ${r.snapshotId}`}`,
      attributes: attrs,
    });
  }

  /** watch bus: one WARN record per upward threshold crossing (kernel events such as oom_kill come as kills). */
  crossing(ev: WatchEvent): void {
    if (ev.threshold === null) return;
    const attrs: LogAttributes = { ...pointAttributes(cgroupLabels(ev.cgroup)), 'memlens.watch.threshold': ev.threshold, 'memlens.watch.source': ev.source };
    delete attrs['cgroup'];
    attrs['memlens.cgroup'] = ev.cgroup;
    put(attrs, 'memlens.watch.usage_bytes', ev.usageBytes ?? undefined);
    put(attrs, 'memlens.watch.limit_bytes', ev.limitBytes ?? undefined);
    if (ev.late === true) {
      attrs['memlens.watch.late'] = true;
      put(attrs, 'memlens.watch.peak_bytes', ev.peakBytes);
    }
    const usage = ev.usageBytes === null ? '' : ` (usage ${ev.usageBytes} bytes${ev.limitBytes === null ? '' : ` of ${ev.limitBytes}`})`;
    this.logger.emit({
      eventName: 'memlens.threshold_crossing',
      timestamp: ev.timeMs,
      observedTimestamp: Date.now(),
      severityNumber: SeverityNumber.WARN,
      severityText: 'WARN',
      body: `memory usage of ${ev.cgroup} crossed ${Math.round(ev.threshold * 100)}% of its limit${usage}`,
      attributes: attrs,
    });
  }

  /** The receiver took these records: remember the newest kill of this boot among them. */
  private accepted(records: readonly ReadableLogRecord[]): void {
    const { bootId } = this.opts;
    if (bootId === undefined) return;
    let newest = this.state?.bootId === bootId ? this.state.seq : -1;
    for (const r of records) {
      const seq = r.attributes[SEQ];
      if (r.attributes[BOOT] === bootId && typeof seq === 'number' && seq > newest) newest = seq;
    }
    if (newest < 0 || (this.state?.bootId === bootId && this.state.seq === newest)) return;
    this.state = { bootId, seq: newest };
    try {
      writePrivateFileAtomic(this.opts.stateDir, STATE_FILE, `${JSON.stringify(this.state)}\n`);
      if (this.stateFailing) this.opts.log.info({ dir: this.opts.stateDir }, 'OTLP logs: state file written again');
      this.stateFailing = false;
    } catch (err) {
      if (!this.stateFailing) this.opts.log.error({ dir: this.opts.stateDir, err: describe(err) }, 'OTLP logs: cannot write the state file (a restart may send kills again)');
      this.stateFailing = true;
    }
  }

  /** Exports what is queued now (tests). */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  async close(): Promise<void> {
    try {
      await this.provider.shutdown();
    } catch (err) {
      this.opts.log.warn({ err: describe(err) }, 'OTLP logs: last export at shutdown failed');
    }
  }
}
