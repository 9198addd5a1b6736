// /api/v1/snapshots: list (newest first, ?cgroup= for a cgroup and below, ?limit=), one document
// by id, and POST {"cgroup": "/path"} to take one now (201 with its summary). A bad body is a 400,
// an unknown cgroup a 404, a snapshot that could not be written a 503 (full disk, read-only dir).
import express, { Router, type Request, type Response } from 'express';
import { BadRequest, parseCgroupParam, parseLimit, send } from './api.js';
import type { SnapshotService } from '../forensics/snapshots.js';
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
    let cgroup: string;
    try {
      const body: unknown = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('body: expected a JSON object {"cgroup": "/path"}');
      const extra = Object.keys(body).find((k) => k !== 'cgroup');
      if (extra !== undefined) throw new BadRequest(`body: unknown key ${JSON.stringify(extra)}`);
      const c = parseCgroupParam((body as { cgroup?: unknown }).cgroup);
      if (c === undefined) throw new BadRequest('cgroup: required');
      cgroup = c;
    } catch (err) {
      if (err instanceof BadRequest) {
        res.status(400).json({ error: err.message });
        return;
      }
      next(err);
      return;
    }
    svc.snapshot(cgroup, 'api', `POST /api/v1/snapshots from ${req.ip ?? '?'}`).then(
      (out) => {
        if (out.ok) {
          res.status(201).json({ id: out.meta.id, cgroup: out.meta.cgroup, time: out.meta.time, processes: out.meta.processes, captureDurationMs: out.doc.captureDurationMs, bytes: out.meta.bytes });
        } else {
          const status = out.status === 'not-found' ? 404 : out.status === 'unsupported' ? 501 : 503;
          res.status(status).json({ error: out.error });
        }
      },
      (err: unknown) => next(err),
    );
  });
  return r;
}
