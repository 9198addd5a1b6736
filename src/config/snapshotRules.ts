// `snapshot.rules` in the YAML file: what to do to a process when its cgroup is snapshotted.
// Each rule matches by comm and/or cgroup (regexes) and either sends a signal (a JVM's SIGQUIT
// thread dump, Node's --report-on-signal, Python's faulthandler.register) or runs a command with
// a timeout and an output cap (`py-spy dump --pid {pid}`), whose output is kept in the snapshot.
import { constants as osConstants } from 'node:os';
import { z } from 'zod';
import { ConfigError, describe } from '../errors.js';
import { parseDurationMs, parseSizeBytes } from './units.js';

export type RuleAction =
  | { kind: 'signal'; signal: NodeJS.Signals }
  | { kind: 'command'; argv: string[]; timeoutMs: number; maxOutputBytes: number };

export interface SnapshotRule {
  name: string;
  comm: RegExp | undefined;
  cgroup: RegExp | undefined;
  action: RuleAction;
  /**
   * SIGQUIT makes a Go program dump its goroutines and exit: a rule that would send it to a Go
   * binary is skipped unless this is set.
   */
  allowGo: boolean;
  /**
   * Send the signal only when the process has a handler for it (SigCgt in /proc/PID/status):
   * SIGUSR1/SIGUSR2 kill a process that does not catch them. On by default.
   */
  requireHandler: boolean;
}

export const DEFAULT_HOOK_TIMEOUT_MS = 10_000;
export const DEFAULT_HOOK_MAX_OUTPUT_BYTES = 1024 * 1024;

export const snapshotRuleSchema = z
  .object({
    name: z.string().min(1),
    comm: z.string().optional(),
    cgroup: z.string().optional(),
    signal: z.string().optional(),
    command: z.string().min(1).optional(),
    timeout: z.union([z.string(), z.number()]).optional(),
    'max-output': z.union([z.string(), z.number()]).optional(),
    'allow-go': z.boolean().optional(),
    'require-handler': z.boolean().optional(),
  })
  .strict()
  .refine((r) => r.comm !== undefined || r.cgroup !== undefined, 'a snapshot rule needs comm or cgroup (a regex)')
  .refine((r) => (r.signal === undefined) !== (r.command === undefined), 'a snapshot rule needs exactly one of signal or command');

export type RawSnapshotRule = z.infer<typeof snapshotRuleSchema>;

/** `py-spy dump --pid {pid}` -> argv; single and double quotes group words; no shell is involved. */
export function splitCommand(text: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (const ch of text) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote !== undefined) return undefined;
  if (inWord) out.push(cur);
  return out.length > 0 ? out : undefined;
}

export function compileSnapshotRules(raw: readonly RawSnapshotRule[], where: string): SnapshotRule[] {
  return raw.map((r, i) => {
    const at = `${where}: snapshot.rules.${i}`;
    const re = (what: 'comm' | 'cgroup'): RegExp | undefined => {
      const src = r[what];
      if (src === undefined) return undefined;
      try {
        return new RegExp(src);
      } catch (err) {
        throw new ConfigError(`${at}.${what}: not a regular expression: ${describe(err)}`);
      }
    };
    let action: RuleAction;
    if (r.signal !== undefined) {
      const name = r.signal.toUpperCase().startsWith('SIG') ? r.signal.toUpperCase() : `SIG${r.signal.toUpperCase()}`;
      if (!(name in osConstants.signals)) throw new ConfigError(`${at}.signal: not a signal name: ${JSON.stringify(r.signal)}`);
      if (name === 'SIGKILL' || name === 'SIGSTOP') throw new ConfigError(`${at}.signal: ${name} would not dump anything`);
      action = { kind: 'signal', signal: name as NodeJS.Signals };
    } else {
      const argv = splitCommand(r.command ?? '');
      if (argv === undefined) throw new ConfigError(`${at}.command: empty or an unclosed quote`);
      const timeoutMs = r.timeout === undefined ? DEFAULT_HOOK_TIMEOUT_MS : parseDurationMs(String(r.timeout));
      if (timeoutMs === undefined || timeoutMs <= 0) throw new ConfigError(`${at}.timeout: not a duration (like 10s): ${JSON.stringify(r.timeout)}`);
      const maxOutputBytes = r['max-output'] === undefined ? DEFAULT_HOOK_MAX_OUTPUT_BYTES : parseSizeBytes(String(r['max-output']));
      if (maxOutputBytes === undefined || maxOutputBytes <= 0) throw new ConfigError(`${at}.max-output: not a size (like 1MiB): ${JSON.stringify(r['max-output'])}`);
      action = { kind: 'command', argv, timeoutMs, maxOutputBytes };
    }
    return { name: r.name, comm: re('comm'), cgroup: re('cgroup'), action, allowGo: r['allow-go'] ?? false, requireHandler: r['require-handler'] ?? true };
  });
}
