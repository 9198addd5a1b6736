// Configuration from flags, MEMLENS_* environment variables and a YAML file, validated once at
// startup. Any error is a ConfigError naming the flag/variable/key and why: main exits 2.
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { ConfigError, describe } from '../errors.js';
import { OPTIONS, envName, type OptionFlag, type OptionSpec } from './options.js';
import { parseDurationMs, parseListenAddress, parseSizeBytes, type ListenAddress } from './units.js';
import { parseThresholds } from './thresholds.js';
import { checkStatItems } from './statItems.js';
import { loadWebConfig, type WebConfig } from './webConfig.js';
import { ownershipProblem } from './ownership.js';
import { otlpConfig, type OtlpConfig } from './otlp.js';
import { compileSnapshotRules, snapshotRuleSchema, type RawSnapshotRule, type SnapshotRule } from './snapshotRules.js';

export interface GroupRule {
  name: string;
  comm: RegExp | undefined;
  cmdline: RegExp | undefined;
}

export interface Config {
  listen: ListenAddress;
  web: {
    /** --web.config.file, validated at startup (TLS files read, hashes checked). */
    configFile: string | undefined;
    config: WebConfig | undefined;
    enableSnapshotApi: boolean;
    maxConnections: number;
  };
  telemetryPath: string;
  /** --web.disable-metrics: no /metrics route (push only). */
  disableMetrics: boolean;
  /** OTLP push: --otlp.endpoint and the OTEL_* environment. */
  otlp: OtlpConfig;
  procRoot: string;
  sysRoot: string;
  kmsgPath: string;
  process: {
    top: number;
    include: RegExp | undefined;
    smapsIntervalMs: number;
    smapsMaxRssBytes: number;
    smapsScope: 'selected' | 'all' | 'none';
    groups: GroupRule[];
  };
  cgroup: { include: RegExp | undefined; exclude: RegExp | undefined; maxDepth: number; statItems: string[] };
  collectTimeoutMs: number;
  collectMinIntervalMs: number;
  /** Names as given; collectors/registry.ts checks them against the collectors it knows. */
  disabledCollectors: string[];
  enabledCollectors: string[];
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  watch: {
    enabled: boolean;
    /** Fractions of the effective limit, ascending. */
    thresholds: number[];
    pollIntervalMs: number;
    /** The allocation rate adaptive polling is sized for (watch/pollSchedule.ts). */
    allocRateBytesPerS: number;
    maxCgroups: number;
    refreshIntervalMs: number;
  };
  snapshot: {
    dir: string;
    minIntervalMs: number;
    cmdline: boolean;
    maxCount: number;
    maxBytes: number;
    maxAgeMs: number;
    linkWindowMs: number;
    hold: boolean;
    holdMaxMs: number;
    rules: SnapshotRule[];
    // Optional so code building a Config by hand (tests) keeps working; loadConfig always sets them.
    maxConcurrent?: number;
    apiMaxProcesses?: number;
    apiAllowRoot?: boolean;
    maxHookOutputBytes?: number;
    minFreeBytes?: number;
  };
  /** Pod names from the kubelet; undefined when --kubernetes.kubelet is unset. */
  kubernetes: { kubelet: URL; tokenFile: string; caFile: string | undefined; insecureSkipVerify: boolean; refreshMinIntervalMs: number } | undefined;
  /** `memlens snapshot --cgroup PATH`: the cgroup to capture. */
  snapshotCgroup: string | undefined;
  /** `memlens explain [KILL-ID|--last] [--url URL] [--json]`: which kill, which memlens, raw JSON or text. */
  explain: { last: boolean; url: string | undefined; json: boolean };
  /** Where each value came from, for the startup log line. */
  configFile: string | undefined;
}

/**
 * The YAML parser, loaded only when a config file is given: it costs ~9 MiB of resident memory
 * that an exporter running on flags alone does not need.
 */
function parseYaml(): (text: string) => unknown {
  const yaml = createRequire(import.meta.url)('yaml') as { parse: (text: string) => unknown };
  return yaml.parse;
}

function regex(text: string, ctx: z.RefinementCtx): RegExp | undefined {
  if (text === '') return undefined;
  try {
    return new RegExp(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression: ${describe(err)}` });
    return z.NEVER;
  }
}

function valueSchema(spec: OptionSpec): z.ZodType {
  const str = z.union([z.string(), z.number()]).transform(String);
  switch (spec.kind) {
    case 'string':
      return str.pipe(z.string().min(1, 'must not be empty'));
    case 'int':
      return str.pipe(z.string().regex(/^\d+$/, 'must be a whole number').transform(Number));
    case 'duration':
      return str.transform((s, ctx) => parseDurationMs(s) ?? (ctx.addIssue({ code: 'custom', message: `not a duration (like 30s, 100ms, 2m): ${JSON.stringify(s)}` }), z.NEVER));
    case 'size':
      return str.transform((s, ctx) => parseSizeBytes(s) ?? (ctx.addIssue({ code: 'custom', message: `not a size (like 4GiB, 512MiB): ${JSON.stringify(s)}` }), z.NEVER));
    case 'regex':
      return str.transform(regex);
    case 'list':
      return str.transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x !== ''));
    case 'enum':
      return str.pipe(z.enum(spec.choices as [string, ...string[]]));
    case 'bool':
      return z.union([z.boolean(), z.string()]).transform((b, ctx) => {
        if (typeof b === 'boolean') return b;
        if (b === 'true' || b === 'false') return b === 'true';
        ctx.addIssue({ code: 'custom', message: `must be true or false, got ${JSON.stringify(b)}` });
        return z.NEVER;
      });
  }
}

const ruleSchema = z
  .object({ name: z.string().min(1), comm: z.string().optional(), cmdline: z.string().optional() })
  .strict()
  .refine((r) => r.comm !== undefined || r.cmdline !== undefined, 'a group rule needs comm or cmdline (a regex)');

/** The file's shape: the flags' dotted keys as nested maps, plus what flags express badly. */
function fileSchema(): z.ZodType {
  const sections = new Map<string, Record<string, z.ZodType>>();
  for (const o of OPTIONS) {
    const [section, key] = sectionKey(o.flag);
    const s = sections.get(section) ?? {};
    s[key] = z.union([z.string(), z.number(), z.boolean()]).optional();
    sections.set(section, s);
  }
  const shape: Record<string, z.ZodType> = {};
  for (const [section, keys] of sections) {
    if (section === 'process') keys['groups'] = z.array(ruleSchema).optional();
    if (section === 'snapshot') keys['rules'] = z.array(snapshotRuleSchema).optional();
    shape[section] = z.object(keys).strict().optional();
  }
  return z.object(shape).strict().nullable();
}

/** `web.config.file` -> ['web', 'config.file']: the file's section and the key in it. */
function sectionKey(flag: string): [string, string] {
  const dot = flag.indexOf('.');
  return [flag.slice(0, dot), flag.slice(dot + 1)];
}

function issueText(e: z.ZodError): string {
  const i = e.issues[0];
  if (i === undefined) return 'invalid';
  const where = i.path.length > 0 ? `${i.path.join('.')}: ` : '';
  return `${where}${i.message}`;
}

/** `extra`: more lines at the end (the CLI adds the collector list from collectors/registry.ts). */
export function helpText(extra: readonly string[] = []): string {
  const lines = ['Usage: memlens [command] [flags]', '', 'Commands:', '  serve (default)   run the exporter', '  watch             print early-warning events (threshold crossings, OOM) live, without HTTP', '  snapshot          capture one cgroup into --snapshot.dir and print its id and path (--cgroup PATH)', '  explain           why an OOM kill happened, asked of the running memlens: KILL-ID or --last (--url, else --web.listen-address)', '', 'Flags (each also MEMLENS_<FLAG> in the environment, or a key in --config FILE):'];
  const all: { flag: string; help: string; default: string | boolean | undefined; kind?: string }[] = [
    ...OPTIONS,
    { flag: 'config', help: 'YAML config file (process group rules live here).', default: undefined },
    { flag: 'cgroup', help: 'With the snapshot command: the cgroup to capture, as /proc/PID/cgroup prints it. With explain --last: the newest kill in this cgroup or below.', default: undefined },
    { flag: 'last', help: 'With the explain command: the newest OOM kill.', default: undefined },
    { flag: 'url', help: 'With the explain command: the running memlens (http://host:port); default from --web.listen-address.', default: undefined },
    { flag: 'json', help: 'With the explain command: print the explanation as JSON.', default: undefined },
    { flag: 'help', help: 'Show this help.', default: undefined },
    { flag: 'version', help: 'Show the version.', default: undefined },
  ];
  for (const o of all) {
    const dflt = o.default === undefined || o.default === '' ? '' : ` (default ${typeof o.default === 'boolean' ? String(o.default) : JSON.stringify(o.default)})`;
    const env = o.flag === 'help' || o.flag === 'version' || o.flag === 'cgroup' || o.flag === 'last' || o.flag === 'url' || o.flag === 'json' ? '' : `  [${envName(o.flag)}]`;
    const name = o.kind === 'bool' ? `[no-]${o.flag}` : o.flag;
    lines.push(`  --${name.padEnd(26)} ${o.help}${dflt}${env}`);
  }
  return [...lines, ...extra].join('\n');
}

const BOOL_FLAGS: ReadonlySet<string> = new Set(OPTIONS.filter((o) => o.kind === 'bool').map((o) => o.flag));

/**
 * `--x` -> `--x=true`, `--no-x` -> `--x=false` for boolean options (up to a `--` terminator); the rest
 * as given. `--x true` / `--x false` (the value as the next word, as memlens took it before booleans
 * were typed) keeps working: no command is named true or false.
 */
function expandBooleanFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (rest || !a.startsWith('--') || a.includes('=')) {
      if (a === '--') rest = true;
      out.push(a);
      continue;
    }
    const name = a.slice(2);
    if (BOOL_FLAGS.has(name)) {
      const next = argv[i + 1];
      if (next === 'true' || next === 'false') {
        out.push(`--${name}=${next}`);
        i++;
      } else out.push(`--${name}=true`);
    } else if (name.startsWith('no-') && BOOL_FLAGS.has(name.slice(3))) out.push(`--${name.slice(3)}=false`);
    else out.push(a);
  }
  return out;
}

export type ParsedCli = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; command: string; config: Config; positionals: string[] };

export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedCli {
  const argOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string' },
    cgroup: { type: 'string' },
    last: { type: 'boolean' },
    url: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  };
  for (const o of OPTIONS) argOptions[o.flag] = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: expandBooleanFlags(argv), options: argOptions, strict: true, allowPositionals: true });
  } catch (err) {
    throw new ConfigError(describe(err).replace(/\. To specify a positional argument.*$/, ''));
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  if (flags['help'] === true) return { kind: 'help' };
  if (flags['version'] === true) return { kind: 'version' };

  const configFile = (flags['config'] as string | undefined) ?? env['MEMLENS_CONFIG'];
  let file: Record<string, Record<string, unknown>> = {};
  let rules: z.infer<typeof ruleSchema>[] = [];
  let snapshotRules: RawSnapshotRule[] = [];
  if (configFile !== undefined) {
    let text: string;
    try {
      if (statSync(configFile).size > 4 * 1024 * 1024) throw new Error('larger than 4 MiB');
      text = readFileSync(configFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`--config ${configFile}: cannot read: ${describe(err)}`, { path: configFile });
    }
    let doc: unknown;
    try {
      doc = parseYaml()(text);
    } catch (err) {
      throw new ConfigError(`${configFile}: not valid YAML: ${describe(err).split('\n')[0]}`, { path: configFile });
    }
    const r = fileSchema().safeParse(doc);
    if (!r.success) throw new ConfigError(`${configFile}: ${issueText(r.error)}`, { path: configFile });
    file = (r.data ?? {}) as Record<string, Record<string, unknown>>;
    rules = (file['process']?.['groups'] as z.infer<typeof ruleSchema>[] | undefined) ?? [];
    snapshotRules = (file['snapshot']?.['rules'] as RawSnapshotRule[] | undefined) ?? [];
    // Rules make root signal processes and run commands: whoever can write the file can do that.
    if (snapshotRules.length > 0) {
      const problem = ownershipProblem(statSync(configFile), configFile);
      if (problem !== undefined) throw new ConfigError(`${configFile}: snapshot.rules: refused: ${problem}`, { path: configFile });
    }
  }

  const values = new Map<OptionFlag, unknown>();
  for (const o of OPTIONS) {
    const [section, key] = sectionKey(o.flag);
    const candidates: [string, unknown][] = [
      [`--${o.flag}`, flags[o.flag]],
      [envName(o.flag), env[envName(o.flag)]],
      [`${configFile ?? ''}: ${o.flag}`, file[section]?.[key]],
      [`default of --${o.flag}`, o.default],
    ];
    const [source, raw] = candidates.find(([, v]) => v !== undefined) ?? ['', undefined];
    if (raw === undefined) {
      values.set(o.flag, undefined);
      continue;
    }
    const r = valueSchema(o).safeParse(raw);
    if (!r.success) throw new ConfigError(`${source}: ${issueText(r.error)}`);
    values.set(o.flag, r.data);
  }

  const groups: GroupRule[] = rules.map((r, i) => {
    const compile = (what: 'comm' | 'cmdline'): RegExp | undefined => {
      const src = r[what];
      if (src === undefined) return undefined;
      try {
        return new RegExp(src);
      } catch (err) {
        throw new ConfigError(`${configFile ?? ''}: process.groups.${i}.${what}: not a regular expression: ${describe(err)}`);
      }
    };
    return { name: r.name, comm: compile('comm'), cmdline: compile('cmdline') };
  });

  const v = <T>(flag: OptionFlag): T => values.get(flag) as T;
  const listenText = v<string>('web.listen-address');
  const listen = parseListenAddress(listenText);
  if (listen === undefined) throw new ConfigError(`--web.listen-address: not [host]:port: ${JSON.stringify(listenText)}`);
  const telemetryPath = v<string>('web.telemetry-path');
  if (!telemetryPath.startsWith('/')) throw new ConfigError(`--web.telemetry-path: must start with /: ${JSON.stringify(telemetryPath)}`);
  const statItems = v<string[]>('cgroup.stat-items');
  const statProblem = checkStatItems(statItems);
  if (statProblem !== undefined) throw new ConfigError(`--cgroup.stat-items: ${statProblem}`);
  const watchThresholds = parseThresholds(v<string[]>('watch.thresholds'));
  if (typeof watchThresholds === 'string') throw new ConfigError(`--watch.thresholds: ${watchThresholds}`);
  const watchPollMs = v<number>('watch.poll-interval');
  if (watchPollMs < 10) throw new ConfigError(`--watch.poll-interval: at least 10ms (got ${watchPollMs}ms)`);
  const watchAllocRate = v<number>('watch.alloc-rate');
  // Below 1 MiB/s a cgroup far from its threshold would be read once in minutes: the ceiling would govern alone.
  if (watchAllocRate < 2 ** 20) throw new ConfigError(`--watch.alloc-rate: at least 1MiB (bytes per second; got ${watchAllocRate})`);

  const webConfigFile = v<string | undefined>('web.config.file');
  const maxConnections = v<number>('web.max-connections');
  if (maxConnections < 1) throw new ConfigError('--web.max-connections: at least 1');
  const maxConcurrent = v<number>('snapshot.max-concurrent');
  if (maxConcurrent < 1) throw new ConfigError('--snapshot.max-concurrent: at least 1');
  const kubeletText = v<string | undefined>('kubernetes.kubelet');
  let kubernetes: Config['kubernetes'];
  if (kubeletText !== undefined) {
    let url: URL;
    try {
      url = new URL(kubeletText);
    } catch {
      throw new ConfigError(`--kubernetes.kubelet: not a URL: ${JSON.stringify(kubeletText)}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`--kubernetes.kubelet: http:// or https:// only, got ${JSON.stringify(url.protocol)}`);
    if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') throw new ConfigError('--kubernetes.kubelet: a base URL without credentials, query or fragment (the token comes from --kubernetes.token-file)');
    kubernetes = {
      kubelet: url,
      tokenFile: v<string>('kubernetes.token-file'),
      caFile: v<string | undefined>('kubernetes.ca-file'),
      insecureSkipVerify: v<boolean>('kubernetes.insecure-skip-tls-verify'),
      refreshMinIntervalMs: v<number>('kubernetes.refresh-min-interval'),
    };
  }

  return {
    kind: 'run',
    command: parsed.positionals[0] ?? 'serve',
    positionals: parsed.positionals.slice(1),
    config: {
      listen,
      web: {
        configFile: webConfigFile,
        config: webConfigFile === undefined ? undefined : loadWebConfig(webConfigFile),
        enableSnapshotApi: v<boolean>('web.enable-snapshot-api'),
        maxConnections,
      },
      telemetryPath,
      disableMetrics: v<boolean>('web.disable-metrics'),
      otlp: otlpConfig(v<string | undefined>('otlp.endpoint'), env),
      procRoot: v<string>('path.procfs').replace(/\/+$/, '') || '/',
      sysRoot: v<string>('path.sysfs').replace(/\/+$/, '') || '/',
      kmsgPath: v<string>('path.kmsg'),
      process: {
        top: v<number>('process.top'),
        include: v<RegExp | undefined>('process.include'),
        smapsIntervalMs: v<number>('process.smaps-interval'),
        smapsMaxRssBytes: v<number>('process.smaps-max-rss'),
        smapsScope: v<'selected' | 'all' | 'none'>('process.smaps-scope'),
        groups,
      },
      cgroup: { include: v<RegExp | undefined>('cgroup.include'), exclude: v<RegExp | undefined>('cgroup.exclude'), maxDepth: v<number>('cgroup.max-depth'), statItems },
      collectTimeoutMs: v<number>('collect.timeout'),
      collectMinIntervalMs: v<number>('collect.min-interval'),
      disabledCollectors: v<string[]>('collectors.disabled'),
      enabledCollectors: v<string[]>('collectors.enabled'),
      logLevel: v<Config['logLevel']>('log.level'),
      watch: {
        enabled: v<boolean>('watch.enabled'),
        thresholds: watchThresholds,
        pollIntervalMs: watchPollMs,
        allocRateBytesPerS: watchAllocRate,
        maxCgroups: v<number>('watch.max-cgroups'),
        refreshIntervalMs: v<number>('watch.refresh-interval'),
      },
      snapshot: {
        dir: v<string>('snapshot.dir'),
        minIntervalMs: v<number>('snapshot.min-interval'),
        cmdline: v<boolean>('snapshot.cmdline'),
        maxCount: v<number>('snapshot.max-count'),
        maxBytes: v<number>('snapshot.max-bytes'),
        maxAgeMs: v<number>('snapshot.max-age'),
        linkWindowMs: v<number>('snapshot.link-window'),
        hold: v<boolean>('snapshot.hold'),
        holdMaxMs: v<number>('snapshot.hold-max'),
        rules: compileSnapshotRules(snapshotRules, configFile ?? ''),
        maxConcurrent,
        apiMaxProcesses: v<number>('snapshot.api-max-processes'),
        apiAllowRoot: v<boolean>('snapshot.api-allow-root'),
        maxHookOutputBytes: v<number>('snapshot.max-hook-output'),
        minFreeBytes: v<number>('snapshot.min-free'),
      },
      kubernetes,
      snapshotCgroup: flags['cgroup'] as string | undefined,
      explain: { last: flags['last'] === true, url: flags['url'] as string | undefined, json: flags['json'] === true },
      configFile,
    },
  };
}
