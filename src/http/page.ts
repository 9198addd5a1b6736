// The page at `/` and the JSON it reads. The page is a static bundle (build/web, made by
// `npm run build` from web/); the API answers from what memlens already holds: the last
// collection and the recent-samples ring. A viewer never costs a collection of its own: when the
// last collection is older than PAGE_MAX_AGE_MS (nobody scraped lately) one is made and shared
// by every viewer and scraper (the runner's in-flight sharing), so the page costs at most one
// collection per PAGE_MAX_AGE_MS whatever the number of viewers. Each view is one request per
// refresh, whatever the number of cgroups.
//
//   GET /api/v1/cgroups                   every cgroup: usage, limits, headroom, 30-min sparkline (permille of the effective limit)
//   GET /api/v1/cgroup?cgroup=/path       one cgroup: memory.stat, events, its sampled processes, every process at its newest snapshot, crossings, kills, snapshots
//   GET /api/v1/oom-kills/:id/explain     why a kill happened (forensics/explain.ts)
import express, { Router, type Request, type Response } from 'express';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../collectors/runner.js';
import type { RecentSamples } from '../forensics/recent.js';
import type { Explainer } from '../forensics/explain.js';
import type { OomStore } from '../oom/store.js';
import type { WatchBus } from '../watch/bus.js';
import type { SnapshotService } from '../forensics/snapshots.js';
import { BadRequest, parseCgroupParam, parseLimit, parseOr400, send } from './api.js';

export const PAGE_MAX_AGE_MS = 10_000;
const SPARK_BUCKETS = 30;
const SPARK_SPAN_MS = 30 * 60_000;

/** build/web, beside build/src (this file is build/src/http/page.js once compiled). */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

export interface PageDeps {
  runner: Runner;
  recent: RecentSamples;
  explainer: Explainer;
  store: OomStore;
  bus: WatchBus;
  snapshots: SnapshotService;
  /** Overrides WEB_DIR (tests). */
  webDir?: string;
}

/** A fresh-enough collection, shared with every viewer and scraper (the ring listens to the runner). */
async function fresh(deps: PageDeps): Promise<void> {
  await deps.runner.recent(PAGE_MAX_AGE_MS);
}

export function pageRouter(deps: PageDeps): Router {
  const r = Router();
  const webDir = deps.webDir ?? WEB_DIR;
  // The cgroups list changes only with a collection: built once per collection (and limit), then
  // the same bytes go to every viewer (1000 cgroups: ~400 KB of JSON, not rebuilt per request).
  let cgroupsCache: { collection: number; limit: number; body: string } | undefined;
  // Every process of a cgroup as its newest snapshot saw it (sampled processes are only the
  // --process.top/--process.include ones): read once per snapshot, not per refresh.
  const snapProcs = new Map<string, unknown>();
  const atLatestSnapshot = (path: string): unknown => {
    const meta = deps.snapshots.list({ cgroup: path, limit: 1 })[0];
    if (meta === undefined) return null;
    const key = `${meta.id}|${path}`;
    const hit = snapProcs.get(key);
    if (hit !== undefined) return hit;
    const doc = deps.snapshots.get(meta.id);
    if (doc === undefined) return null;
    const under = (c: string): boolean => c === path || c.startsWith(`${path}/`) || path === '/';
    const value = {
      id: doc.id,
      time: doc.time,
      processes: doc.processes
        .filter((x) => under(x.cgroup))
        .sort((a, b) => (b.status?.residentBytes ?? 0) - (a.status?.residentBytes ?? 0))
        .slice(0, 100)
        .map((x) => ({
          pid: x.pid, comm: x.comm ?? '?', cgroup: x.cgroup, rssBytes: x.status?.residentBytes, rssAnonBytes: x.status?.residentAnonBytes,
          rssFileBytes: x.status?.residentFileBytes, rssShmemBytes: x.status?.residentShmemBytes, swapBytes: x.status?.swapBytes,
          pssBytes: x.smapsRollup?.pssBytes, ussBytes: x.smapsRollup?.ussBytes, oomScore: x.oomScore,
        })),
    };
    snapProcs.set(key, value);
    if (snapProcs.size > 50) snapProcs.delete(snapProcs.keys().next().value as string);
    return value;
  };

  r.get('/api/v1/oom-kills/:id/explain', (req: Request, res: Response) => {
    const e = deps.explainer.explain(String(req.params['id']));
    if (e === undefined) res.status(404).json({ error: 'no such OOM kill' });
    else res.json(e);
  });

  r.get('/api/v1/cgroups', async (req: Request, res: Response) => {
    const limit = parseOr400(res, () => parseLimit(req.query['limit'], 100_000));
    if (limit === undefined) return;
    await fresh(deps);
    const collection = deps.recent.collectionCount;
    if (cgroupsCache !== undefined && cgroupsCache.collection === collection && cgroupsCache.limit === limit) {
      res.type('json').send(cgroupsCache.body);
      return;
    }
    const nowMs = deps.recent.updatedMs ?? Date.now();
    const spark = deps.recent.sparklines(nowMs, SPARK_BUCKETS, SPARK_SPAN_MS);
    const rows = deps.recent.currentCgroupList().map((c) => {
      const eff = c.effectiveLimitBytes;
      const usage = c.usageBytes;
      // Sparklines in permille of the effective limit (of the row's highest point without one):
      // three or four digits a point instead of ten, for 1000 cgroups every refresh.
      const raw = spark.values.get(c.path) ?? [];
      const scale = eff ?? Math.max(1, ...raw.map((v) => v ?? 0));
      return {
        cgroup: c.path,
        usageBytes: usage ?? null,
        limitBytes: c.limitBytes ?? null,
        effectiveLimitBytes: eff ?? null,
        headroomBytes: eff !== undefined && usage !== undefined ? eff - usage : null,
        usageRatio: eff !== undefined && usage !== undefined && eff > 0 ? usage / eff : null,
        processes: c.processes ?? null,
        oomKills: c.oomKills ?? null,
        spark: raw.map((v) => (v === null ? null : Math.round((v / scale) * 1000))),
      };
    });
    // Closest to the OOM killer first: least headroom as a fraction of the effective limit.
    rows.sort((a, b) => (b.usageRatio ?? -1) - (a.usageRatio ?? -1) || (a.cgroup < b.cgroup ? -1 : 1));
    const body = JSON.stringify({
      updated: deps.recent.updatedMs === undefined ? null : new Date(deps.recent.updatedMs).toISOString(),
      sparkFromMs: spark.fromMs,
      sparkStepMs: spark.stepMs,
      sparkUnit: 'permille of the effective limit',
      total: rows.length,
      cgroups: rows.slice(0, limit),
    });
    cgroupsCache = { collection, limit, body };
    res.type('json').send(body);
  });

  r.get('/api/v1/cgroup', async (req: Request, res: Response) => {
    const path = parseOr400(res, () => {
      const p = parseCgroupParam(req.query['cgroup']);
      if (p === undefined) throw new BadRequest('cgroup: required (?cgroup=/path)');
      return p;
    });
    if (path === undefined) return;
    await fresh(deps);
    const c = deps.recent.cgroup(path);
    if (c === undefined) {
      res.status(404).json({ error: `cgroup ${path} not seen in the recent collections (filtered by --cgroup.include/--cgroup.exclude, or gone)` });
      return;
    }
    const p = path;
    send(res, () => ({
      updated: deps.recent.updatedMs === undefined ? null : new Date(deps.recent.updatedMs).toISOString(),
      cgroup: c,
      series: deps.recent.cgroupSeries(p).map((x) => [x.tMs, x.value]),
      processes: deps.recent.currentProcessesUnder(p),
      processesNote: 'Processes are those sampled by memlens: the --process.top by resident memory and the --process.include matches. A snapshot lists every process.',
      atLatestSnapshot: atLatestSnapshot(p),
      events: deps.bus.recent({ cgroup: p, limit: 50 }).map((e) => ({ ...e, time: new Date(e.timeMs).toISOString() })),
      kills: deps.store.list({ cgroup: p, limit: 20 }),
      snapshots: deps.snapshots.list({ cgroup: p, limit: 20 }),
    }));
  });

  if (existsSync(webDir)) {
    r.use('/', (_req, res, next) => {
      // The bundle is self-contained: nothing but memlens itself is ever loaded.
      res.set('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
      res.set('X-Content-Type-Options', 'nosniff');
      next();
    }, express.static(webDir, { index: 'index.html', maxAge: 0 }));
  } else {
    r.get('/', (_req, res) => {
      res.type('text/plain').send('memlens: the page is not built (run `npm run build`); /metrics and /api/v1/* work.\n');
    });
  }
  return r;
}
