// Error classes with stable codes. Parsers never throw these at callers for odd kernel text
// (they return what they could read plus problems); they are for startup, IO and API misuse.

export type ErrorCode =
  | 'MEMLENS_ERR_CONFIG'
  | 'MEMLENS_ERR_PARSE'
  | 'MEMLENS_ERR_IO'
  | 'MEMLENS_ERR_UNSUPPORTED'
  | 'MEMLENS_ERR_LISTEN'
  | 'MEMLENS_ERR_TIMEOUT'
  /** A thing asked for by name (a cgroup, a snapshot, a kill) does not exist. */
  | 'MEMLENS_ERR_NOT_FOUND'
  /** A request's or command's argument is malformed (not the startup configuration: that is MEMLENS_ERR_CONFIG, exit 2). */
  | 'MEMLENS_ERR_INVALID_INPUT';

export class MemlensError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly line: number | undefined;

  constructor(code: ErrorCode, message: string, opts: { path?: string; line?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'MemlensError';
    this.code = code;
    this.path = opts.path;
    this.line = opts.line;
  }
}

/** Bad flags, environment or config file: the process exits 2 with this message. */
export class ConfigError extends MemlensError {
  constructor(message: string, opts: { path?: string; cause?: unknown } = {}) {
    super('MEMLENS_ERR_CONFIG', message, opts);
    this.name = 'ConfigError';
  }
}

/** A parser met text it cannot use. Carried as a problem, never thrown out of a parser. */
export class ParseError extends MemlensError {
  constructor(message: string, path: string, line?: number) {
    super('MEMLENS_ERR_PARSE', message, line === undefined ? { path } : { path, line });
    this.name = 'ParseError';
  }
}

/**
 * The errno name (ENOENT, EACCES, ...) of a failed system call: Node's fs errors carry it in `code`,
 * errors wrapping one (a MemlensError from the epoll/koffi layer) in their `cause` chain.
 */
export function errnoCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && typeof cur === 'object' && cur !== null; depth++) {
    if ('code' in cur) {
      const c = (cur as { code: unknown }).code;
      if (typeof c === 'string' && /^E[A-Z0-9]+$/.test(c)) return c;
    }
    cur = 'cause' in cur ? (cur as { cause: unknown }).cause : undefined;
  }
  return undefined;
}

/** ENOENT/ESRCH: a pid exited or a cgroup went away between listing and reading. Normal, silent. */
export function isGone(err: unknown): boolean {
  const c = errnoCode(err);
  return c === 'ENOENT' || c === 'ESRCH' || c === 'ENODEV';
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
