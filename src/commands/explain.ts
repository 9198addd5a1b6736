// `memlens explain [KILL-ID|--last [--cgroup PATH]]`: asks the running memlens (its HTTP API, --url or
// --web.listen-address) why an OOM kill happened and prints the answer for a person: the
// summary, the victim, the limit that was hit, how fast usage grew, the processes (who grew),
// memory.stat shares, signals and dumps, the snapshot, and what evidence is missing and why.
// --json prints the API's JSON as is. Exit 0 printed, 1 memlens unreachable or no such kill,
// 2 bad usage.
import type { Config } from '../config/load.js';
import type { Explanation } from '../forensics/explain.js';
import { fmtBytes } from '../forensics/explain.js';
import { describe } from '../errors.js';

/** The base URL of the memlens to ask, and the Authorization header its credentials give (fetch refuses them in the URL). */
export function target(cfg: Config): { base: string; headers: Record<string, string> } {
  let raw = cfg.explain.url;
  if (raw === undefined) {
    const h = cfg.listen.host;
    const host = h === undefined || h === '' || h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h;
    raw = `http://${host}:${cfg.listen.port}`;
  }
  const u = new URL(raw);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--url: expected http:// or https://, got ${u.protocol}`);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (u.username !== '' || u.password !== '') {
    headers['authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  return { base: u.toString().replace(/\/+$/, ''), headers };
}

async function getJson(url: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    body = { error: `not JSON (${describe(err)}): ${text.slice(0, 200)}` };
  }
  return { status: res.status, body };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur !== '' && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur === '' ? w : `${cur} ${w}`;
  }
  if (cur !== '') lines.push(cur);
  return lines.map((l) => indent + l).join('\n');
}

/** The explanation for a person, in plain text (no colour: it goes into tickets and chat). */
export function formatExplanation(e: Explanation, base: string): string {
  const out: string[] = [];
  out.push(`OOM kill ${e.killId} at ${e.time}`);
  out.push('');
  out.push(wrap(e.summary, 96, '  '));
  out.push('');
  const v = e.victim;
  out.push(`Victim      ${v.comm} (pid ${v.pid}) in ${v.cgroup ?? '?'}: ${fmtBytes(v.rssBytes)} resident (anon ${fmtBytes(v.anonRssBytes)}, file ${fmtBytes(v.fileRssBytes)}, shmem ${fmtBytes(v.shmemRssBytes)}), oom_score_adj ${v.oomScoreAdj ?? '?'}`);
  out.push(`Limit hit   ${e.limit.text}`);
  out.push(`Growth      ${e.growth?.text ?? 'unknown (see missing evidence)'}`);
  if (e.grew !== undefined) out.push(`Grew most   ${e.grew.comm} (pid ${e.grew.pid}): +${fmtBytes(e.grew.bytes)} in ${e.grew.seconds.toFixed(1)} s${e.grew.victim ? ' (the victim)' : ''}`);
  if (e.processes.length > 0) {
    out.push('');
    out.push('Processes (largest first)');
    out.push(`  ${pad('PID', 8)}${pad('COMM', 17)}${pad('RSS', 12)}${pad('ANON', 12)}${pad('FILE', 12)}${pad('SHMEM', 11)}${pad('PSS', 12)}${pad('GROWTH', 24)}FROM`);
    for (const p of e.processes) {
      const g = p.growth === undefined ? '-' : `${p.growth.bytes >= 0 ? '+' : ''}${fmtBytes(p.growth.bytes)} in ${p.growth.seconds.toFixed(0)} s`;
      out.push(
        `  ${pad(String(p.pid), 8)}${pad(p.comm + (p.victim ? '*' : ''), 17)}${pad(fmtBytes(p.rssBytes), 12)}${pad(fmtBytes(p.anonBytes), 12)}${pad(fmtBytes(p.fileBytes), 12)}` +
          `${pad(fmtBytes(p.shmemBytes), 11)}${pad(fmtBytes(p.pssBytes), 12)}${pad(g, 24)}${p.source}`,
      );
      for (const m of p.topMappings) out.push(`  ${' '.repeat(8)}  mapping ${m.name}: ${fmtBytes(m.rssBytes)} resident, ${fmtBytes(m.anonymousBytes)} anonymous`);
    }
    out.push('  (* the victim)');
  }
  if (e.memory !== undefined) {
    const m = e.memory;
    out.push('');
    out.push(`Memory of ${m.cgroup} (from the ${m.source}): usage ${fmtBytes(m.usageBytes)}, anon ${fmtBytes(m.anonBytes)}, page cache ${fmtBytes(m.fileBytes)}, shmem ${fmtBytes(m.shmemBytes)}, kernel ${fmtBytes(m.kernelBytes)}`);
    for (const n of m.notes) out.push(wrap(`- ${n}`, 96, '  '));
  }
  if (e.signals.length > 0) {
    out.push('');
    out.push('Signals and commands (snapshot rules)');
    for (const s of e.signals) out.push(wrap(`- pid ${s.pid} (${s.comm ?? '?'}) rule ${s.rule}: ${s.action}: ${s.detail}`, 96, '  '));
  }
  out.push('');
  if (e.snapshot !== undefined) {
    const ended = e.snapshot.captureEndedBeforeKill ? 'finished before the kill' : 'still reading at the kill';
    out.push(`Snapshot    ${e.snapshot.id}, started ${e.snapshot.secondsBeforeKill.toFixed(2)} s before the kill (${ended}), ${e.snapshot.processes} processes`);
    out.push(`            why: ${e.snapshot.reason}`);
    out.push(`            ${base}/api/v1/snapshots/${e.snapshot.id}`);
  } else out.push('Snapshot    none (see missing evidence)');
  if (e.crossings.length > 0) {
    out.push('');
    out.push('Watcher events up to the kill (crossings, OOM notifications)');
    for (const c of e.crossings) {
      const what = c.threshold !== null ? `crossed ${Math.round(c.threshold * 100)} %` : (c.event ?? 'event');
      out.push(`  ${c.time}  ${pad(what, 14)} usage ${fmtBytes(c.usageBytes)} of ${fmtBytes(c.limitBytes)}  [${c.source}]`);
    }
  }
  if (e.missing.length > 0) {
    out.push('');
    out.push('Missing evidence');
    for (const m of e.missing) out.push(wrap(`- ${m.what}: ${m.why}`, 96, '  '));
  }
  return `${out.join('\n')}\n`;
}

export async function explainCommand(cfg: Config, id: string | undefined, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  if ((id === undefined) === !cfg.explain.last) {
    err.write('memlens: explain needs a KILL-ID or --last (not both); ids are listed at /api/v1/oom-kills\n');
    return 2;
  }
  let t: { base: string; headers: Record<string, string> };
  try {
    t = target(cfg);
  } catch (e) {
    err.write(`memlens: ${describe(e)}\n`);
    return 2;
  }
  try {
    let killId = id;
    if (killId === undefined) {
      // --cgroup narrows --last to the kills of one cgroup and below (a pod's, a test's).
      const cg = cfg.snapshotCgroup === undefined ? '' : `&cgroup=${encodeURIComponent(cfg.snapshotCgroup)}`;
      const r = await getJson(`${t.base}/api/v1/oom-kills?limit=1${cg}`, t.headers);
      if (r.status !== 200) {
        err.write(`memlens: ${t.base}/api/v1/oom-kills answered ${r.status}: ${JSON.stringify(r.body).slice(0, 200)}\n`);
        return 1;
      }
      const kills = (r.body as { kills?: { id?: unknown }[] }).kills ?? [];
      const first = kills[0]?.id;
      if (typeof first !== 'string') {
        err.write(`memlens: no OOM kill${cfg.snapshotCgroup === undefined ? '' : ` in ${cfg.snapshotCgroup}`} recorded by the memlens at ${t.base}\n`);
        return 1;
      }
      killId = first;
    }
    const r = await getJson(`${t.base}/api/v1/oom-kills/${encodeURIComponent(killId)}/explain`, t.headers);
    if (r.status !== 200) {
      err.write(`memlens: ${r.status === 404 ? `no OOM kill ${killId}` : `answered ${r.status}`}: ${JSON.stringify(r.body).slice(0, 200)}\n`);
      return 1;
    }
    out.write(cfg.explain.json ? `${JSON.stringify(r.body, null, 2)}\n` : formatExplanation(r.body as Explanation, t.base));
    return 0;
  } catch (e) {
    err.write(`memlens: cannot reach memlens at ${t.base}: ${describe(e)}${e instanceof Error && e.cause !== undefined ? ` (${describe(e.cause)})` : ''}\n`);
    return 1;
  }
}
