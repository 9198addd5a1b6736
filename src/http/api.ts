// The JSON API: /api/v1/oom-kills. Bad query parameters get a 400 naming the parameter.
import { Router, type Request, type Response } from 'express';
import type { OomStore } from '../oom/store.js';
import type { WatchBus } from '../watch/bus.js';

export class BadRequest extends Error {
  readonly status = 400;
}

/** `since`: RFC 3339 time or Unix seconds. */
function parseSince(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new BadRequest('since: expected an RFC 3339 time or Unix seconds');
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  // RFC 3339 only: Date.parse alone accepts V8's free-form dates ("hello 1" is 2001-01-01).
  if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(v)) {
    throw new BadRequest(`since: not an RFC 3339 time or Unix seconds: ${JSON.stringify(v.slice(0, 40))}`);
  }
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new BadRequest(`since: not a time: ${JSON.stringify(v.slice(0, 40))}`);
  return ms;
}

export function parseLimit(v: unknown, max: number): number {
  if (v === undefined) return max;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < 1) throw new BadRequest('limit: expected a whole number >= 1');
  return Math.min(Number(v), max);
}

export function parseCgroupParam(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v.startsWith('/')) throw new BadRequest('cgroup: expected a cgroup path starting with /');
  return v;
}

/** Runs a request's parsing: its value, or undefined once a BadRequest has been answered with 400. Other errors propagate. */
export function parseOr400<T>(res: Response, parse: () => T): T | undefined {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof BadRequest)) throw err;
    res.status(400).json({ error: err.message });
    return undefined;
  }
}

export function send(res: Response, fn: () => unknown): void {
  const body = parseOr400(res, fn);
  if (!res.headersSent) res.json(body);
}

/** Recent early-warning events (threshold crossings, OOM and memory events), newest first; `time` added as RFC 3339. */
export function eventsRouter(bus: WatchBus): Router {
  const r = Router();
  r.get('/api/v1/events', (req: Request, res: Response) => {
    send(res, () => {
      const events = bus.recent({ cgroup: parseCgroupParam(req.query['cgroup']), sinceMs: parseSince(req.query['since']), limit: parseLimit(req.query['limit'], 1000) });
      return { events: events.map((e) => ({ ...e, time: new Date(e.timeMs).toISOString() })) };
    });
  });
  return r;
}

/** `explain`: the kills list with `?explain=true` carries each kill's explanation (the page's kills view: one request). */
export function oomRouter(store: OomStore, explain?: (id: string) => unknown): Router {
  const r = Router();
  r.get('/api/v1/oom-kills', (req: Request, res: Response) => {
    send(res, () => {
      const withExplanation = req.query['explain'];
      if (withExplanation !== undefined && withExplanation !== 'true' && withExplanation !== 'false') throw new BadRequest('explain: expected true or false');
      const kills = store.list({ cgroup: parseCgroupParam(req.query['cgroup']), sinceMs: parseSince(req.query['since']), limit: parseLimit(req.query['limit'], 1000) });
      if (withExplanation !== 'true' || explain === undefined) return { kills };
      return { kills: kills.slice(0, 100).map((k) => ({ ...k, explanation: explain(k.id) })) };
    });
  });
  r.get('/api/v1/oom-kills/:id', (req: Request, res: Response) => {
    const k = store.get(String(req.params['id']));
    if (k === undefined) res.status(404).json({ error: 'no such OOM kill' });
    else res.json(k);
  });
  return r;
}
