// Durations (`30s`, `100ms`, `2m`) and sizes (`4GiB`, `512MiB`, `1048576`) as written in flags and files.

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (m === null) return undefined;
  return Number(m[1]) * DURATION_MS[m[2]!]!;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|kB|MB|GB|TB)?$/;
const SIZE_BYTES: Record<string, number> = {
  B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12,
};

export function parseSizeBytes(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  if (m === null) return undefined;
  return Math.round(Number(m[1]) * SIZE_BYTES[m[2] ?? 'B']!);
}

export interface ListenAddress {
  host: string | undefined;
  port: number;
}

/** `:9966`, `0.0.0.0:9966`, `[::1]:9966`. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2];
  return { host: host === '' || host === undefined ? undefined : host, port };
}
