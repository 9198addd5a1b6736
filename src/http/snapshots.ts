// /api/v1/snapshots: list (newest first, ?cgroup= for a cgroup and below, ?limit=), one document
// by id, and POST {"cgroup": "/path"} to take one now (201 with its summary). A bad body is a 400,
// an unknown cgroup a 404, a snapshot that could not be written a 503 (full disk, read-only dir).
import express, { Router, type Request, type Response } from 'express';
import { BadRequest, parseCgroupParam, parseLimit, parseOr400, send } from './api.js';
import { canonicalCgroupPath, type SnapshotOutcome, type SnapshotService } from '../forensics/snapshots.js';
import { clip } from './server.js';
import { isSnapshotId } from '../forensics/store.js';

export interface SnapshotsRouterOptions {
  /** --web.enable-snapshot-api: POST takes a snapshot (and runs the rules' actions); otherwise 403. */
  enabled: boolean;
}

export function snapshotsRouter(svc: SnapshotService, o: SnapshotsRouterOptions = { enabled: false }): Router {
  const r = Router();
  r.get('/api/v1/snapshots', (req: Request, res: Response) => {
    send(res, () => ({ snapshots: svc.list({ cgroup: parseCgroupParam(req.query['cgroup']), limit: parseLimit(req.query['limit'], 1000) }) }));
  });
  r.get('/api/v1/snapshots/:id', (req: Request, res: Response) => {
    const id = String(req.params['id']);
    const doc = isSnapshotId(id) ? svc.get(id) : undefined;
    if (doc === undefined) res.status(404).json({ error: 'no such snapshot' });
    else res.json(doc);
  });
  // Like Prometheus's admin API: actions are off unless asked for. Checked before the body is read.
  r.post('/api/v1/snapshots', (_req: Request, res: Response, next) => {
    if (o.enabled) next();
    else res.status(403).json({ error: 'taking snapshots over HTTP is off: start memlens with --web.enable-snapshot-api' });
  });
  r.post('/api/v1/snapshots', express.json({ limit: '16kb' }), (req: Request, res: Response, next) => {
    const cgroup = parseOr400(res, () => {
      const body: unknown = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('body: expected a JSON object {"cgroup": "/path"}');
      const extra = Object.keys(body).find((k) => k !== 'cgroup');
      if (extra !== undefined) throw new BadRequest(`body: unknown key ${clip(JSON.stringify(extra), 60)}`);
      const c = parseCgroupParam((body as { cgroup?: unknown }).cgroup);
      if (c === undefined) throw new BadRequest('cgroup: required');
      const canonical = canonicalCgroupPath(c);
      if (canonical === undefined) throw new BadRequest('cgroup: not a cgroup path (absolute, no "." or "..", no control characters, at most 4096 characters)');
      return canonical;
    });
    if (cgroup === undefined) return;
    svc.apiSnapshot(cgroup, `POST /api/v1/snapshots from ${req.ip ?? '?'}`).then(
      (out) => {
        if (out.ok) {
          res.status(201).json({ id: out.meta.id, cgroup: out.meta.cgroup, time: out.meta.time, processes: out.meta.processes, captureDurationMs: out.doc.captureDurationMs, bytes: out.meta.bytes });
        } else {
          const [status, error] = failure(out, cgroup);
          if (out.retryAfterSeconds !== undefined) res.set('Retry-After', String(out.retryAfterSeconds));
          res.status(status).json({ error });
        }
      },
      (err: unknown) => next(err),
    );
  });
  return r;
}

/**
 * The status and the message for a client. The service's own text for an IO failure names
 * internal paths and errnos (it goes to the log): a client gets a generic line instead.
 */
function failure(out: Extract<SnapshotOutcome, { ok: false }>, cgroup: string): [number, string] {
  switch (out.status) {
    case 'not-found':
      return [404, `no such cgroup: ${clip(cgroup, 200)}`];
    case 'unsupported':
      return [501, 'no cgroup memory controller on this host'];
    case 'refused':
      return [403, out.error];
    case 'debounced':
    case 'busy':
      return [429, out.error];
    case 'no-space':
      return [507, 'too little free space for snapshots (see the memlens log)'];
    case 'error':
      return [503, 'the snapshot could not be taken or written (see the memlens log)'];
  }
}
