// Snapshots on disk: one JSON document per snapshot in --snapshot.dir, written atomically (a temp
// file in the same directory, then rename: a reader or a crash sees the old document or the new
// one, never half of one), an index of them rebuilt from the directory at start, and retention by
// count, total bytes and age (oldest first). This is memlens' own output, not host state read
// through --path.procfs/--path.sysfs, so it uses node:fs itself rather than HostFs.
// Not fsynced: rename makes a document all-or-nothing; a power cut may lose the last one.
// The directory and its files are private to memlens's user (privateDir.ts): documents are
// written through O_EXCL|O_NOFOLLOW temp files and only regular files are read, each with a cap.
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readPrivateFile, writePrivateFileAtomic } from './privateDir.js';
import type { Logger } from '../log.js';
import { describe, errnoCode } from '../errors.js';
import type { SnapshotDoc } from './capture.js';

export interface Retention {
  maxCount: number;
  maxBytes: number;
  maxAgeMs: number;
}

export interface SnapshotMeta {
  id: string;
  file: string;
  cgroup: string;
  reason: string;
  time: string;
  timeMs: number;
  captureEndMs: number;
  bytes: number;
  processes: number;
  oomKills: string[];
}

const ID = /^snap-\d+-[a-z0-9]+$/;

/** A snapshot document larger than this on disk is not read (not one of ours). */
export const MAX_DOC_BYTES = 256 * 1024 * 1024;

export function isSnapshotId(id: string): boolean {
  return ID.test(id);
}

export function newSnapshotId(timeMs: number): string {
  return `snap-${timeMs}-${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;
}

/** `p` is `c` or below it (cgroup paths). */
export function isUnder(p: string, c: string): boolean {
  return p === c || c === '/' || p.startsWith(`${c}/`);
}

function metaOf(doc: SnapshotDoc, file: string, bytes: number): SnapshotMeta {
  return {
    id: doc.id, file, cgroup: doc.cgroup, reason: doc.reason, time: doc.time, timeMs: doc.timeMs, captureEndMs: doc.captureEndMs, bytes,
    processes: doc.processes.length, oomKills: [...doc.oomKills],
  };
}

/** Just enough of a parsed document to index it; anything else on disk is not ours. */
function asDoc(v: unknown): SnapshotDoc | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const d = v as Partial<SnapshotDoc>;
  if (typeof d.id !== 'string' || !isSnapshotId(d.id) || typeof d.cgroup !== 'string' || typeof d.timeMs !== 'number') return undefined;
  if (!Array.isArray(d.processes) || !Array.isArray(d.oomKills) || typeof d.captureEndMs !== 'number') return undefined;
  return d as SnapshotDoc;
}

export class SnapshotStore {
  /** Oldest first. */
  private index: SnapshotMeta[] = [];

  constructor(
    readonly dir: string,
    private readonly retention: Retention,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Indexes what the directory holds (it is created at the first write). Never throws: a bad dir fails each write instead. */
  init(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      this.log.error({ dir: this.dir, err: describe(err) }, 'snapshot directory unreadable: snapshots will fail');
      return;
    }
    const found: SnapshotMeta[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      if (name.startsWith('.snap-') && name.includes('.tmp')) {
        // unlink removes a link itself, never what it points to.
        // A temp file of a write that died before its rename.
        this.removeQuietly(path);
        continue;
      }
      if (!name.startsWith('snap-') || !name.endsWith('.json')) continue;
      try {
        const text = readPrivateFile(path, MAX_DOC_BYTES);
        const doc = asDoc(JSON.parse(text));
        if (doc === undefined || `${doc.id}.json` !== name) {
          this.log.warn({ path }, 'not a snapshot document: left alone, not indexed');
          continue;
        }
        found.push(metaOf(doc, path, Buffer.byteLength(text)));
      } catch (err) {
        this.log.warn({ path, err: describe(err) }, 'unreadable snapshot document: left alone, not indexed');
      }
    }
    this.index = found.sort((a, b) => a.timeMs - b.timeMs);
    this.prune();
  }

  /** Writes (or rewrites) a document atomically; throws on any IO failure (EROFS, ENOSPC, EACCES). */
  write(doc: SnapshotDoc): SnapshotMeta {
    const text = JSON.stringify(doc);
    const file = writePrivateFileAtomic(this.dir, `${doc.id}.json`, text);
    const meta = metaOf(doc, file, Buffer.byteLength(text));
    const at = this.index.findIndex((m) => m.id === doc.id);
    if (at >= 0) this.index[at] = meta;
    else {
      this.index.push(meta);
      this.index.sort((a, b) => a.timeMs - b.timeMs);
    }
    this.prune(doc.id);
    return meta;
  }

  /** Newest first; `cgroup` selects snapshots of that cgroup or below it. */
  list(q: { cgroup?: string | undefined; limit?: number | undefined } = {}): SnapshotMeta[] {
    const out: SnapshotMeta[] = [];
    for (let i = this.index.length - 1; i >= 0; i--) {
      const m = this.index[i]!;
      if (q.cgroup !== undefined && !isUnder(m.cgroup, q.cgroup)) continue;
      out.push({ ...m, oomKills: [...m.oomKills] });
      if (q.limit !== undefined && out.length >= q.limit) break;
    }
    return out;
  }

  meta(id: string): SnapshotMeta | undefined {
    return this.index.find((m) => m.id === id);
  }

  /** The document, or undefined when it is not (or no longer) in the store. */
  get(id: string): SnapshotDoc | undefined {
    const m = this.meta(id);
    if (m === undefined) return undefined;
    try {
      return asDoc(JSON.parse(readPrivateFile(m.file, MAX_DOC_BYTES)));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Adds an OOM kill id to a stored document (rewritten atomically). Throws on IO failure. */
  addKill(id: string, killId: string): void {
    const doc = this.get(id);
    if (doc === undefined) return;
    if (doc.oomKills.includes(killId)) return;
    doc.oomKills.push(killId);
    this.write(doc);
  }

  /** The newest snapshot taken at or before `atMs` (and not before `notBeforeMs`) whose cgroup matches. */
  newest(matches: (cgroup: string) => boolean, atMs: number, notBeforeMs: number): SnapshotMeta | undefined {
    for (let i = this.index.length - 1; i >= 0; i--) {
      const m = this.index[i]!;
      if (m.timeMs > atMs) continue;
      if (m.timeMs < notBeforeMs) return undefined;
      if (matches(m.cgroup)) return m;
    }
    return undefined;
  }

  totals(): { count: number; bytes: number } {
    return { count: this.index.length, bytes: this.index.reduce((s, m) => s + m.bytes, 0) };
  }

  private prune(keep?: string): void {
    const { maxCount, maxBytes, maxAgeMs } = this.retention;
    let bytes = this.index.reduce((s, m) => s + m.bytes, 0);
    const cutoff = this.now() - maxAgeMs;
    while (this.index.length > 0) {
      const oldest = this.index[0]!;
      if (oldest.id === keep) break; // the newest document stays even when it alone is over the limits
      const over = this.index.length > maxCount || bytes > maxBytes || oldest.timeMs < cutoff;
      if (!over) break;
      this.index.shift();
      bytes -= oldest.bytes;
      this.removeQuietly(oldest.file);
    }
  }

  private removeQuietly(path: string): void {
    try {
      unlinkSync(path);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.log.warn({ path, err: describe(err) }, 'cannot remove an old snapshot file');
    }
  }
}
