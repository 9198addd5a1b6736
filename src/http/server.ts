// HTTP: /metrics (Prometheus text or OpenMetrics, by Accept header), /healthz, and the routers
// main.ts hands in (the JSON API, the page at / in page.ts).
// A failing collector never breaks the scrape (the runner turns it into success 0); a 500 is
// only for exposition itself failing.
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import type { Server } from 'node:http';
import type { Runner } from '../collectors/runner.js';
import { PrometheusSink } from '../sinks/prometheus.js';
import type { Logger } from '../log.js';
import { MemlensError, describe } from '../errors.js';
import type { ListenAddress } from '../config/units.js';

export interface AppDeps {
  runner: Runner;
  /** Extra routes (the JSON API), mounted before the 404 handler. */
  routers?: Router[];
  sink: PrometheusSink;
  telemetryPath: string;
  log: Logger;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get(deps.telemetryPath, async (req: Request, res: Response) => {
    try {
      const snap = await deps.runner.collect();
      const format = PrometheusSink.negotiate(req.get('accept'));
      const body = await deps.sink.render(format, snap, snap.samples);
      res.set('Content-Type', deps.sink.contentType(format)).send(body);
    } catch (err) {
      deps.log.error({ err: describe(err) }, 'exposition failed');
      res.status(500).type('text/plain').send(`exposition failed: ${describe(err)}\n`);
    }
  });

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });

  for (const r of deps.routers ?? []) app.use(r);

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
  // Malformed requests (bad JSON, bad URI) get a 4xx and one line, never a stack trace.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 500;
    res.status(status).type('text/plain').send(`${describe(err)}\n`);
  });
  return app;
}

/** Listens, or rejects with MEMLENS_ERR_LISTEN (port in use, no permission). */
export function listen(app: Express, addr: ListenAddress): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(addr.port, addr.host ?? '::');
    // Scrapers keep connections alive between scrapes (Prometheus: every scrape interval). With
    // Node's default 5 s the server may close a connection just as the client reuses it
    // (ECONNRESET); keep idle connections longer than the usual 15-60 s interval.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.once('listening', () => resolve(server));
    server.once('error', (err) => {
      const where = `${addr.host ?? ''}:${addr.port}`;
      reject(new MemlensError('MEMLENS_ERR_LISTEN', `cannot listen on ${where}: ${describe(err)}`, { cause: err }));
    });
  });
}
