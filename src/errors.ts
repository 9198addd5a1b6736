// Error classes with stable codes. Parsers never throw these at callers for odd kernel text
// (they return what they could read plus problems); they are for startup, IO and API misuse.

export type ErrorCode =
  | 'MEMLENS_ERR_CONFIG'
  | 'MEMLENS_ERR_PARSE'
  | 'MEMLENS_ERR_IO'
  | 'MEMLENS_ERR_UNSUPPORTED'
  | 'MEMLENS_ERR_LISTEN'
  | 'MEMLENS_ERR_TIMEOUT';

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

/** The errno of a failed system call, if the error carries one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    return typeof c === 'string' ? c : undefined;
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
