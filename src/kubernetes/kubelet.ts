// Pod names from this node's kubelet: GET <--kubernetes.kubelet>/pods, the kubelet's own list of
// the pods it runs (the same PodList JSON as the API server's; no watch, no API server load).
//
// - Cached: pod uid -> names. A uid's namespace and name never change, so the cache is refreshed
//   only when a cgroup shows a pod uid or container id it lacks (a new pod, a restarted
//   container), at most once per --kubernetes.refresh-min-interval. Each successful answer
//   replaces the whole cache, so departed pods leave it: it holds at most one PodList's worth.
// - Bounded: the answer is capped in bytes (MAX_BYTES) and in pods (pods.ts), the request in time.
// - A failure (kubelet down, 401/403, bad TLS, bad JSON) keeps the last good cache, is counted as
//   a problem of the kubernetes collector and logged once per change of state: never a failed scrape.
// - Authentication: the pod's service account token, re-read before every request (projected
//   tokens rotate), sent as a Bearer token. The kubelet authorizes GET /pods as the `proxy`
//   subresource of nodes (kubelet/server/auth.go), or `pods` with KubeletFineGrainedAuthz (1.33+).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../log.js';
import { describe } from '../errors.js';
import type { Problem } from '../model/types.js';
import { parsePodList, type PodIndex } from './pods.js';
import { kubeIds } from '../cgroupfs/kubePath.js';

export const MAX_BYTES = 32 * 1024 * 1024;

export interface KubeletOptions {
  /** Base URL: https://NODE_IP:10250 (authenticated), or http://127.0.0.1:10255 (read-only port). */
  url: URL;
  tokenFile: string | undefined;
  caFile: string | undefined;
  insecureSkipVerify: boolean;
  refreshMinIntervalMs: number;
  timeoutMs: number;
}

export interface KubeNames {
  namespace: string;
  pod: string;
  /** Absent for the pod's own cgroup, the sandbox (pause) container and unknown ids. */
  container?: string;
}

/** What a snapshot or a kill record carries about its cgroup: the ids from the path, names when known. */
export interface KubeRef {
  podUid: string;
  containerId?: string;
  namespace?: string;
  pod?: string;
  container?: string;
}

/** Reads a small local file (token, CA), or undefined when it does not exist. */
export type ReadFile = (path: string) => string | undefined;

export class KubeletNames {
  private index: PodIndex = new Map();
  private lastFetchMs = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private problems: Problem[] = [];
  private failing: boolean | undefined;
  private fetches = 0;
  private req: { destroy: (err?: Error) => void } | undefined;
  private closed = false;

  constructor(
    private readonly opts: KubeletOptions,
    private readonly readFile: ReadFile,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Names from the cache only (no request): snapshots and kill records use this. */
  lookup(podUid: string | undefined, containerId?: string): KubeNames | undefined {
    if (podUid === undefined) return undefined;
    const p = this.index.get(podUid);
    if (p === undefined) return undefined;
    const container = containerId === undefined ? undefined : p.containers.get(containerId);
    return container === undefined ? { namespace: p.namespace, pod: p.pod } : { namespace: p.namespace, pod: p.pod, container };
  }

  /** The ids of a cgroup path and, from the cache only, its names; undefined when the path has no pod uid. */
  ref(cgroup: string | undefined): KubeRef | undefined {
    if (cgroup === undefined) return undefined;
    const ids = kubeIds(cgroup);
    if (ids.podUid === undefined) return undefined;
    return { podUid: ids.podUid, ...(ids.containerId === undefined ? {} : { containerId: ids.containerId }), ...this.lookup(ids.podUid, ids.containerId) };
  }

  /** How many requests were made (tests, and the rate limit's evidence). */
  get requests(): number {
    return this.fetches;
  }

  /**
   * Refresh the cache when one of these ids is unknown and the last request is old enough.
   * Resolves when that request (or the one in flight) ends; never rejects.
   */
  refreshFor(ids: Iterable<{ podUid?: string; containerId?: string }>): Promise<void> {
    if (this.inFlight !== undefined) return this.inFlight;
    let unknown = false;
    for (const id of ids) {
      if (id.podUid === undefined) continue;
      const p = this.index.get(id.podUid);
      if (p === undefined || (id.containerId !== undefined && !p.containers.has(id.containerId))) {
        unknown = true;
        break;
      }
    }
    if (this.closed || !unknown || this.now() - this.lastFetchMs < this.opts.refreshMinIntervalMs) return Promise.resolve();
    this.lastFetchMs = this.now();
    this.inFlight = this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Ends a request in flight and makes no more (memlens is stopping). */
  close(): void {
    this.closed = true;
    this.req?.destroy(new Error('memlens is stopping'));
  }

  /** Problems since the last call (the collector reports them, the runner counts them). */
  drainProblems(): Problem[] {
    const p = this.problems;
    this.problems = [];
    return p;
  }

  private async fetch(): Promise<void> {
    this.fetches++;
    const where = `${this.opts.url.origin}${this.opts.url.pathname.replace(/\/+$/, '')}/pods`;
    try {
      const body = await this.get(where);
      const parsed = parsePodList(body, where);
      this.index = parsed.value;
      for (const e of parsed.problems.slice(0, 5)) this.problems.push({ reason: 'kubelet_parse', message: e.message, path: where });
      if (this.failing !== false) this.log.info({ url: where, pods: parsed.value.size }, 'kubelet pod names available');
      this.failing = false;
    } catch (err) {
      if (this.closed) return;
      const message = describe(err);
      this.problems.push({ reason: 'kubelet', message, path: where });
      if (this.failing !== true) this.log.warn({ url: where, err: message }, 'kubelet unreachable: cgroups keep their ids but get no pod names');
      this.failing = true;
    }
  }

  private get(where: string): Promise<string> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.opts.tokenFile !== undefined) {
      const token = this.readFile(this.opts.tokenFile)?.trim();
      if (token !== undefined && token !== '') {
        if (!/^[\x21-\x7e]+$/.test(token)) throw new Error(`${this.opts.tokenFile}: not a bearer token`);
        headers['Authorization'] = `Bearer ${token}`;
      }
    }
    const https = this.opts.url.protocol === 'https:';
    let ca: string | undefined;
    if (https && this.opts.caFile !== undefined) {
      ca = this.readFile(this.opts.caFile);
      if (ca === undefined) throw new Error(`${this.opts.caFile}: no such file`);
    }
    return new Promise<string>((resolveOuter, rejectOuter) => {
      // A deadline on the whole exchange, not only on idle time: a slow drip cannot hold it open.
      const deadline = setTimeout(() => req.destroy(new Error(`no complete answer within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
      const resolve = (s: string): void => {
        this.req = undefined;
        clearTimeout(deadline);
        resolveOuter(s);
      };
      const reject = (e: unknown): void => {
        this.req = undefined;
        clearTimeout(deadline);
        rejectOuter(e);
      };
      const onResponse = (res: IncomingMessage): void => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode ?? '?'} from ${where}`));
          return;
        }
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (b: Buffer) => {
          bytes += b.length;
          if (bytes > MAX_BYTES) {
            req.destroy(new Error(`answer larger than ${MAX_BYTES} bytes`));
            return;
          }
          chunks.push(b);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      };
      const common = { method: 'GET', headers };
      const req = https
        ? httpsRequest(where, { ...common, rejectUnauthorized: !this.opts.insecureSkipVerify, ...(ca === undefined ? {} : { ca }) }, onResponse)
        : httpRequest(where, common, onResponse);
      req.on('error', reject);
      this.req = req;
      req.end();
    });
  }
}
