// Applies --web.config.file (config/webConfig.ts) to the whole app: one express middleware placed
// before every route (so routes added later, the page and the APIs, are covered) checks the client
// certificate policy and basic auth; /healthz is mounted before it and stays open for probes.
//
// Re-reading follows exporter-toolkit (web/handler.go reads the file on every request;
// tls_config.go rebuilds the TLS config on every handshake): here the config file and the TLS
// files it names are stat()ed on every request and every new connection, and re-read when one of
// them changed. A file that became invalid fails closed: requests get 500 and new TLS connections
// are dropped until it is fixed, as exporter-toolkit does. What a running listener cannot change
// (TLS on or off, whether the handshake asks for a client certificate) needs a restart: a reload
// that would change it is treated as invalid.
import { createHash } from 'node:crypto';
import type { Server as NetServer, Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import bcrypt from 'bcryptjs';
import type { Logger } from '../log.js';
import { describe } from '../errors.js';
import { filesSignature, loadWebConfig, secureContextOptions, type WebConfig } from '../config/webConfig.js';

/** Compared against for an unknown user, so timing does not tell which users exist (exporter-toolkit does the same). */
const FAKE_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
/** bcrypt costs ~50-100 ms of CPU here: one at a time, and at most this many waiting (then 503). */
const MAX_BCRYPT_QUEUE = 16;
const CACHE_ENTRIES = 256;
/** Paths served without auth (liveness probes). */
export const OPEN_PATHS: readonly string[] = ['/healthz'];

export class WebSecurity {
  private cfg: WebConfig | undefined;
  private signature: string;
  private readonly cache = new Map<string, boolean>();
  private bcryptChain: Promise<unknown> = Promise.resolve();
  private bcryptQueued = 0;
  private server: TlsServer | undefined;
  private lastError: string | undefined;

  constructor(
    readonly file: string,
    private readonly initial: WebConfig,
    private readonly log: Logger,
  ) {
    this.cfg = initial;
    this.signature = filesSignature(initial, file);
  }

  get tlsEnabled(): boolean {
    return this.initial.tls !== undefined;
  }

  /** Options for https.createServer (undefined: plain HTTP). */
  httpsOptions(): HttpsOptions | undefined {
    const t = this.initial.tls;
    if (t === undefined) return undefined;
    return {
      ...secureContextOptions(t),
      requestCert: t.clientAuth !== 'NoClientCert',
      // Only RequireAndVerifyClientCert fails the handshake itself; the other policies are
      // checked per request below (Node verifies a given certificate either way: socket.authorized).
      rejectUnauthorized: t.clientAuth === 'RequireAndVerifyClientCert',
    };
  }

  /** Re-reads the files when one of them changed. undefined: the file is invalid now (fail closed). */
  current(): WebConfig | undefined {
    const sig = filesSignature(this.cfg ?? this.initial, this.file);
    if (sig === this.signature) return this.cfg;
    this.signature = sig;
    try {
      const next = loadWebConfig(this.file);
      if ((next.tls === undefined) !== (this.initial.tls === undefined)) throw new Error('TLS turned on or off: restart memlens to apply it');
      if (next.tls !== undefined && this.initial.tls !== undefined && (next.tls.clientAuth === 'NoClientCert') !== (this.initial.tls.clientAuth === 'NoClientCert')) {
        throw new Error('whether a client certificate is requested changed: restart memlens to apply it');
      }
      if (next.tls !== undefined) this.server?.setSecureContext(secureContextOptions(next.tls));
      this.cfg = next;
      this.signature = filesSignature(next, this.file);
      this.cache.clear();
      this.lastError = undefined;
      this.log.info({ file: this.file, tls: next.tls !== undefined, users: next.users.size }, 'web config reloaded');
    } catch (err) {
      this.cfg = undefined;
      const msg = describe(err);
      if (msg !== this.lastError) this.log.error({ file: this.file, err: msg }, 'web config invalid: refusing requests until it is fixed');
      this.lastError = msg;
    }
    return this.cfg;
  }

  /** A TLS server: the secure context follows the files, checked before each handshake. */
  attach(server: NetServer): void {
    if (this.initial.tls === undefined) return;
    this.server = server as TlsServer;
    // Prepended: it runs before the TLS server's own connection listener wraps the socket, so
    // a context updated here is the one this very handshake uses.
    server.prependListener('connection', (socket: Socket) => {
      if (this.current() === undefined) socket.destroy();
    });
  }

  middleware(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      if (OPEN_PATHS.includes(req.path)) {
        next();
        return;
      }
      const cfg = this.current();
      if (cfg === undefined) {
        res.status(500).type('text/plain').send('Internal Server Error\n');
        return;
      }
      const certProblem = cfg.tls === undefined ? undefined : clientCertProblem(req.socket as TLSSocket, cfg.tls.clientAuth);
      if (certProblem !== undefined) {
        res.status(403).type('text/plain').send(`${certProblem}\n`);
        return;
      }
      if (cfg.users.size === 0) {
        next();
        return;
      }
      const creds = basicCredentials(req.get('authorization'));
      if (creds === undefined) {
        unauthorized(res);
        return;
      }
      this.check(cfg, creds.user, creds.pass).then(
        (ok) => {
          if (ok === 'busy') res.status(503).set('Retry-After', '1').type('text/plain').send('Service Unavailable\n');
          else if (ok) next();
          else unauthorized(res);
        },
        (err: unknown) => next(err),
      );
    };
  }

  private async check(cfg: WebConfig, user: string, pass: string): Promise<boolean | 'busy'> {
    const hash = cfg.users.get(user);
    const key = createHash('sha256').update(`${user}\0${hash ?? ''}\0${pass}`).digest('hex');
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached && hash !== undefined;
    if (this.bcryptQueued >= MAX_BCRYPT_QUEUE) return 'busy';
    this.bcryptQueued++;
    const run = this.bcryptChain.then(() => bcrypt.compare(pass, hash ?? FAKE_HASH));
    this.bcryptChain = run.catch(() => undefined);
    let ok: boolean;
    try {
      ok = (await run) && hash !== undefined;
    } finally {
      this.bcryptQueued--;
    }
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, ok);
    return ok;
  }
}

function unauthorized(res: Response): void {
  res.status(401).set('WWW-Authenticate', 'Basic realm="memlens", charset="UTF-8"').type('text/plain').send('Unauthorized\n');
}

export function basicCredentials(header: string | undefined): { user: string; pass: string } | undefined {
  if (header === undefined || header.length > 4096) return undefined;
  const m = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
  if (m?.[1] === undefined) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), pass: text.slice(colon + 1) };
}

/** Why this connection's client certificate does not satisfy the policy; undefined when it does. */
function clientCertProblem(socket: TLSSocket, policy: string): string | undefined {
  if (policy === 'NoClientCert' || policy === 'RequestClientCert') return undefined;
  if (typeof socket.getPeerCertificate !== 'function') return 'a TLS client certificate is required';
  const given = Object.keys(socket.getPeerCertificate()).length > 0;
  if (policy === 'RequireAnyClientCert') return given ? undefined : 'a TLS client certificate is required';
  if (policy === 'VerifyClientCertIfGiven') return !given || socket.authorized ? undefined : 'the TLS client certificate is not trusted';
  return given && socket.authorized ? undefined : 'a trusted TLS client certificate is required';
}
