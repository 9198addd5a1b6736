// HTTP: /metrics (Prometheus text or OpenMetrics, by Accept header), /healthz, and the routers
// main.ts hands in (the JSON API, the page at / in page.ts).
// A failing collector never breaks the scrape (the runner turns it into success 0); a 500 is
// only for exposition itself failing.
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { ExpositionSink, SnapshotSource } from '../sinks/sink.js';
import type { Logger } from '../log.js';
import { MemlensError, describe } from '../errors.js';
import type { ListenAddress } from '../config/units.js';

export interface AppDeps {
  /** The runner: scrapes (and OTLP exports) within --collect.min-interval share one collection. */
  runner: SnapshotSource;
  /** Extra routes (the JSON API, the page), mounted after the guard and before the 404 handler. */
  routers?: Router[];
  /** Undefined with --web.disable-metrics (push only): no route at the telemetry path. */
  sink: ExpositionSink | undefined;
  telemetryPath: string;
  log: Logger;
  /**
   * Runs before every route except /healthz (auth and TLS client-certificate policy from
   * --web.config.file): routes added anywhere below are covered by it.
   */
  guard?: RequestHandler;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });

  // Everything below needs what --web.config.file asks for (open probes stay above).
  if (deps.guard !== undefined) app.use(deps.guard);

  const sink = deps.sink;
  if (sink !== undefined) {
    app.get(deps.telemetryPath, async (req: Request, res: Response) => {
      try {
        const snap = await deps.runner.collect();
        const format = sink.negotiate(req.get('accept'));
        res.set('Content-Type', sink.contentType(format));
        // In pieces of one reused buffer, each handed to the socket before the next is written: no buffer of the
        // whole body (megabytes at a thousand cgroups) at the peak of a scrape or between scrapes. A body of one
        // piece goes with its Content-Length; a longer one chunked (HTTP/1.1), which every scraper reads.
        // res.end/write, not res.send: send would hash the body for an ETag that no scraper sends back (Prometheus
        // never asks with If-None-Match). Express's ETags stay on for the other routes.
        await sink.stream(format, snap, (piece, last) => sendPiece(res, piece, last));
      } catch (err) {
        if (res.headersSent) {
          // Cut off mid-body (the client went away, or the socket failed): nothing more to send.
          deps.log.debug({ err: describe(err) }, 'exposition not sent whole');
          res.destroy();
          return;
        }
        deps.log.error({ err: describe(err) }, 'exposition failed');
        res.status(500).type('text/plain').send('exposition failed (see the memlens log)\n');
      }
    });
  }

  for (const r of deps.routers ?? []) app.use(r);

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
  // Malformed requests (bad JSON, bad URI) get a 4xx and one line, never a stack trace.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 500;
    // A 4xx says what was wrong with the request (bounded); a 5xx says nothing internal (paths, errnos).
    if (status >= 500) deps.log.error({ err: clip(describe(err)) }, 'request failed');
    res.status(status).type('text/plain').send(status >= 500 ? 'internal error (see the memlens log)\n' : `${clip(describe(err))}\n`);
  });
  return app;
}

/**
 * Hands one piece of a body to the response; resolves once the socket has taken its bytes (the write's callback),
 * rejects when the write fails or the response closes first. The last piece ends the response (with its
 * Content-Length when it is the only one).
 */
function sendPiece(res: Response, piece: Buffer, last: boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error | null): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      if (err === undefined || err === null) resolve();
      else reject(err);
    };
    const onClose = (): void => settle(new MemlensError('MEMLENS_ERR_IO', 'the response closed before the body was sent'));
    res.on('close', onClose);
    if (last && !res.headersSent) res.set('Content-Length', String(piece.length));
    if (last) res.end(piece, () => settle());
    else res.write(piece, (err) => settle(err));
  });
}

/** User-supplied text in logs and error bodies: at most `max` characters, control characters escaped. */
export function clip(text: string, max = 200): string {
  const cut = text.length > max ? `${text.slice(0, max)}...(${text.length} chars)` : text;
  return cut.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export interface ListenOptions {
  /** TLS (from --web.config.file): https instead of http. */
  https?: HttpsOptions | undefined;
  /** Connections beyond this are closed at once (--web.max-connections). */
  maxConnections?: number;
  /** Called with the server before it listens (the web config follows its TLS files through it). */
  onServer?: (server: Server) => void;
}

/** A whole request (headers and body) must arrive within this; headers within HEADERS_TIMEOUT_MS. */
export const REQUEST_TIMEOUT_MS = 30_000;
export const HEADERS_TIMEOUT_MS = 20_000;

/** Listens, or rejects with MEMLENS_ERR_LISTEN (port in use, no permission). */
export function listen(app: Express, addr: ListenAddress, opts: ListenOptions = {}): Promise<Server> {
  return new Promise((resolve, reject) => {
    // A client trickling a body a byte at a time is cut off at requestTimeout (Node's default is
    // 300 s), one sending headers slowly at headersTimeout; idle keep-alive connections are
    // governed by keepAliveTimeout alone.
    // Node checks both every connectionsCheckingInterval (default 30 s): check often enough that they hold.
    const timeouts = { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 2000 };
    const server: Server = opts.https === undefined ? createHttpServer(timeouts, app) : createHttpsServer({ ...opts.https, ...timeouts }, app);
    // Scrapers keep connections alive between scrapes (Prometheus: every scrape interval). With
    // Node's default 5 s the server may close a connection just as the client reuses it
    // (ECONNRESET); keep idle connections longer than the usual 15-60 s interval.
    server.keepAliveTimeout = 65_000;
    if (opts.maxConnections !== undefined) server.maxConnections = opts.maxConnections;
    opts.onServer?.(server);
    server.once('listening', () => resolve(server));
    server.once('error', (err) => {
      const where = `${addr.host ?? ''}:${addr.port}`;
      reject(new MemlensError('MEMLENS_ERR_LISTEN', `cannot listen on ${where}: ${describe(err)}`, { cause: err }));
    });
    server.listen(addr.port, addr.host ?? '::');
  });
}
