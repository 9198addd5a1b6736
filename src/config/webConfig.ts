// --web.config.file: TLS and basic auth in the format the Prometheus exporters share
// (prometheus/exporter-toolkit, docs/web-configuration.md):
//
//   tls_server_config:
//     cert_file: server.crt          # relative paths are relative to the file's directory
//     key_file: server.key
//     client_ca_file: ca.crt         # needs a client_auth_type other than NoClientCert
//     client_auth_type: RequireAndVerifyClientCert
//     min_version: TLS12             # TLS10..TLS13, default TLS12 (as exporter-toolkit)
//     max_version: TLS13
//   basic_auth_users:
//     prometheus: $2y$10$...         # bcrypt hashes only (htpasswd -nBC 10 "" | tr -d ':\n')
//
// Keys memlens does not implement (cipher_suites, curve_preferences, client_allowed_sans,
// http_server_config, rate_limit, inline cert/key) are refused by name rather than ignored: a
// setting that looks applied but is not is worse than a clear error. This module only parses and
// validates (reading the certificate files to prove them usable); http/webAuth.ts applies it.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { z } from 'zod';
import { ConfigError, describe } from '../errors.js';

export type ClientAuthType = 'NoClientCert' | 'RequestClientCert' | 'RequireAnyClientCert' | 'VerifyClientCertIfGiven' | 'RequireAndVerifyClientCert';

export interface WebTls {
  certFile: string;
  keyFile: string;
  clientCaFile: string | undefined;
  clientAuth: ClientAuthType;
  minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** The files' bytes as read at load time (what the secure context is built from). */
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
}

export interface WebConfig {
  file: string;
  tls: WebTls | undefined;
  /** user -> bcrypt hash. Empty: no basic auth. */
  users: Map<string, string>;
}

const VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
const ORDER = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
const CLIENT_AUTH: Record<string, ClientAuthType> = {
  '': 'NoClientCert',
  NoClientCert: 'NoClientCert',
  RequestClientCert: 'RequestClientCert',
  RequireAnyClientCert: 'RequireAnyClientCert',
  RequireClientCert: 'RequireAnyClientCert', // exporter-toolkit keeps this old name too
  VerifyClientCertIfGiven: 'VerifyClientCertIfGiven',
  RequireAndVerifyClientCert: 'RequireAndVerifyClientCert',
};
/** bcrypt's modular crypt format: $2a$/$2b$/$2y$, a two-digit cost, 22 salt + 31 hash characters. */
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
const NOT_IMPLEMENTED = 'is an exporter-toolkit key memlens does not implement: remove it';

const version = z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']);
const notImplemented = z.unknown().refine(() => false, NOT_IMPLEMENTED).optional();
const tlsSchema = z
  .object({
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    client_ca_file: z.string().optional(),
    client_auth_type: z.string().optional(),
    min_version: version.optional(),
    max_version: version.optional(),
    cert: notImplemented,
    key: notImplemented,
    client_ca: notImplemented,
    cipher_suites: notImplemented,
    curve_preferences: notImplemented,
    prefer_server_cipher_suites: notImplemented,
    client_allowed_sans: notImplemented,
  })
  .strict();
const fileSchema = z
  .object({
    tls_server_config: tlsSchema.nullable().optional(),
    basic_auth_users: z.record(z.string(), z.string()).nullable().optional(),
    http_server_config: notImplemented,
    rate_limit: notImplemented,
  })
  .strict()
  .nullable();

function readPart(cfgFile: string, key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${cfgFile}: tls_server_config.${key}: cannot read ${path}: ${describe(err)}`, { path: cfgFile });
  }
}

/** Paths in the file are relative to its directory (exporter-toolkit's SetDirectory). */
function resolveIn(cfgFile: string, p: string): string {
  return isAbsolute(p) ? p : join(dirname(cfgFile), p);
}

/** Parses and validates the text of a web config file. Throws ConfigError naming the file and the key. */
export function parseWebConfig(text: string, file: string): WebConfig {
  let doc: unknown;
  try {
    doc = (createRequire(import.meta.url)('yaml') as { parse: (t: string) => unknown }).parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${describe(err).split('\n')[0] ?? ''}`, { path: file });
  }
  const r = fileSchema.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0];
    const where = i === undefined || i.path.length === 0 ? '' : `${i.path.join('.')}: `;
    throw new ConfigError(`${file}: ${where}${i?.message ?? 'invalid'}`, { path: file });
  }
  const users = new Map<string, string>();
  for (const [user, hash] of Object.entries(r.data?.basic_auth_users ?? {})) {
    if (user === '' || user.includes(':')) throw new ConfigError(`${file}: basic_auth_users: a user name must be non-empty and without ':'`, { path: file });
    if (!BCRYPT.test(hash)) throw new ConfigError(`${file}: basic_auth_users.${user}: not a bcrypt hash ($2y$10$... from htpasswd -nB)`, { path: file });
    users.set(user, hash);
  }
  const t = r.data?.tls_server_config ?? undefined;
  // exporter-toolkit's IsEnabled: any TLS key set turns TLS on (and then cert and key are required).
  const tlsOn = t !== undefined && (t.cert_file !== undefined || t.key_file !== undefined || (t.client_ca_file ?? '') !== '' || (t.client_auth_type ?? '') !== '');
  if (!tlsOn) return { file, tls: undefined, users };
  if (t.cert_file === undefined) throw new ConfigError(`${file}: tls_server_config.cert_file: required when TLS is configured`, { path: file });
  if (t.key_file === undefined) throw new ConfigError(`${file}: tls_server_config.key_file: required when TLS is configured`, { path: file });
  const clientAuth = CLIENT_AUTH[t.client_auth_type ?? ''];
  if (clientAuth === undefined) {
    throw new ConfigError(`${file}: tls_server_config.client_auth_type: ${JSON.stringify(t.client_auth_type)} is not one of ${Object.keys(CLIENT_AUTH).filter((k) => k !== '').join(', ')}`, { path: file });
  }
  const caSet = (t.client_ca_file ?? '') !== '';
  if (caSet && clientAuth === 'NoClientCert') throw new ConfigError(`${file}: tls_server_config.client_ca_file: set without a client_auth_type`, { path: file });
  if (!caSet && (clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert')) {
    throw new ConfigError(`${file}: tls_server_config.client_ca_file: required by client_auth_type ${clientAuth}`, { path: file });
  }
  const minVersion = VERSIONS[t.min_version ?? 'TLS12'];
  const maxVersion = VERSIONS[t.max_version ?? 'TLS13'];
  if (ORDER.indexOf(minVersion) > ORDER.indexOf(maxVersion)) throw new ConfigError(`${file}: tls_server_config.min_version: above max_version`, { path: file });
  const certFile = resolveIn(file, t.cert_file);
  const keyFile = resolveIn(file, t.key_file);
  const clientCaFile = caSet ? resolveIn(file, t.client_ca_file ?? '') : undefined;
  const tls: WebTls = {
    certFile, keyFile, clientCaFile, clientAuth, minVersion, maxVersion,
    cert: readPart(file, 'cert_file', certFile),
    key: readPart(file, 'key_file', keyFile),
    ca: clientCaFile === undefined ? undefined : readPart(file, 'client_ca_file', clientCaFile),
  };
  try {
    createSecureContext(secureContextOptions(tls));
  } catch (err) {
    const what = /ca|certificate authorit/i.test(describe(err)) && tls.ca !== undefined ? 'client_ca_file' : 'cert_file';
    throw new ConfigError(`${file}: tls_server_config.${what}: unusable certificate or key: ${describe(err)}`, { path: file });
  }
  return { file, tls, users };
}

export function secureContextOptions(tls: WebTls): SecureContextOptions {
  return { cert: tls.cert, key: tls.key, minVersion: tls.minVersion, maxVersion: tls.maxVersion, ...(tls.ca === undefined ? {} : { ca: tls.ca }) };
}

const MAX_WEB_CONFIG_BYTES = 1024 * 1024;

/** Reads and validates the file (startup: a ConfigError makes memlens exit 2). */
export function loadWebConfig(file: string): WebConfig {
  let text: string;
  try {
    if (statSync(file).size > MAX_WEB_CONFIG_BYTES) throw new Error(`larger than ${MAX_WEB_CONFIG_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--web.config.file ${file}: cannot read: ${describe(err)}`, { path: file });
  }
  return parseWebConfig(text, file);
}

/** What changes when any of the files changes: the config file and the TLS files it names. */
export function filesSignature(cfg: WebConfig | undefined, file: string): string {
  const paths = [file, ...(cfg?.tls === undefined ? [] : [cfg.tls.certFile, cfg.tls.keyFile, ...(cfg.tls.clientCaFile === undefined ? [] : [cfg.tls.clientCaFile])])];
  return paths
    .map((p) => {
      try {
        const s = statSync(p, { bigint: true });
        return `${p}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
      } catch (err) {
        return `${p}:${describe(err)}`;
      }
    })
    .join('|');
}
