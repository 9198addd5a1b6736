// The memlens page: four views over memlens's own JSON API, one request per view per refresh
// (whatever the number of cgroups), refreshed every REFRESH_MS without reloading.
//   #/                    cgroups by headroom to their effective limit: bar + 30-min sparkline
//   #/cgroup/<path>       one cgroup: usage chart, processes, memory.stat, events, kills, snapshots
//   #/kills               OOM kills, each with its explanation and a link to its snapshot
//   #/snapshot/<id>       one snapshot: cgroups, processes, top mappings, hook outputs, signals
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';

const REFRESH_MS = 5000;

// ---- API shapes (the parts the page reads)
interface CgroupRow {
  cgroup: string;
  usageBytes: number | null;
  limitBytes: number | null;
  effectiveLimitBytes: number | null;
  headroomBytes: number | null;
  usageRatio: number | null;
  processes: number | null;
  oomKills: number | null;
  /** Permille of the effective limit. */
  spark: (number | null)[];
}
interface CgroupsResponse { updated: string | null; sparkFromMs: number; sparkStepMs: number; total: number; cgroups: CgroupRow[] }
interface ProcessRow {
  pid: number; comm: string; cgroup: string; rssBytes?: number; rssAnonBytes?: number; rssFileBytes?: number; rssShmemBytes?: number;
  swapBytes?: number; pssBytes?: number; ussBytes?: number; oomScore?: number; oomScoreAdj?: number;
}
interface WatchEventRow { id: number; time: string; cgroup: string; source: string; threshold: number | null; usageBytes: number | null; limitBytes: number | null; event?: string }
interface SnapshotMeta { id: string; cgroup: string; reason: string; time: string; processes: number; bytes: number; oomKills: string[] }
interface KillRecord {
  id: string; time: string; victim: { pid: number; comm: string }; cgroup?: string; oomCgroup?: string; constraint?: string; snapshotId?: string;
  anonRssBytes?: number; fileRssBytes?: number; shmemRssBytes?: number; memcg?: { usageBytes: number; limitBytes: number | 'max'; failcnt: number };
  explanation?: Explanation;
}
interface CgroupDetail {
  updated: string | null;
  cgroup: { path: string; usageBytes?: number; limitBytes?: number; effectiveLimitBytes?: number; workingSetBytes?: number; peakBytes?: number; swapBytes?: number; stat: Record<string, number>; events: Record<string, number>; processes?: number; oomKills?: number };
  series: [number, number][];
  processes: ProcessRow[];
  processesNote: string;
  atLatestSnapshot: { id: string; time: string; processes: ProcessRow[] } | null;
  events: WatchEventRow[];
  kills: KillRecord[];
  snapshots: SnapshotMeta[];
}
interface ExplainedProcess {
  pid: number; comm: string; victim: boolean; rssBytes?: number; anonBytes?: number; fileBytes?: number; shmemBytes?: number; pssBytes?: number; source: string;
  growth?: { bytes: number; seconds: number; fromBytes: number; toBytes: number };
  topMappings: { name: string; rssBytes: number }[];
}
interface Explanation {
  killId: string; summary: string;
  limit: { kind: string; cgroup?: string; limitBytes?: number; usageBytes?: number; text: string };
  growth?: { text: string; bytesPerSecond: number };
  grew?: { pid: number; comm: string; bytes: number; seconds: number; victim: boolean };
  processes: ExplainedProcess[];
  memory?: { notes: string[]; fileShare?: number; kernelShare?: number };
  signals: { pid: number; comm?: string; rule: string; action: string; done: boolean; detail: string }[];
  snapshot?: { id: string; secondsBeforeKill: number; captureEndedBeforeKill: boolean; processes: number };
  missing: { what: string; why: string }[];
}
interface Action { rule: string; kind: 'signal' | 'command'; signal?: string; sent?: boolean; skipped?: string; argv?: string[]; exitCode?: number | null; timedOut?: boolean; output?: string; outputBytes?: number; error?: string }
interface SnapProcess {
  pid: number; cgroup: string; comm?: string; argv0?: string; stage: string; goneAt?: string; oomScore?: number; oomScoreAdj?: number;
  status?: { residentBytes?: number; residentAnonBytes?: number; residentFileBytes?: number; residentShmemBytes?: number; swapBytes?: number; state?: string; threads?: number };
  smapsRollup?: { pssBytes?: number; ussBytes?: number; swapBytes?: number };
  topMappings?: { name: string; vmas: number; rssBytes: number; pssBytes: number; anonymousBytes: number; swapBytes: number }[];
  actions: Action[]; errors: string[];
}
interface SnapshotDoc {
  id: string; time: string; reason: string; cgroup: string; mode: string; captureDurationMs: number;
  cgroups: { path: string; usageBytes?: number; limitBytes?: number | 'max'; effectiveLimitBytes?: number | 'max'; stat: Record<string, number>; pids: number[] }[];
  processes: SnapProcess[]; oomKills: string[]; hold?: { setAtMs: number; restoredAtMs?: number };
  truncated: { cgroups: boolean; processes: boolean };
}

// ---- helpers
function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a < 1024) return `${n} B`;
  if (a < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (a < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
function pct(r: number | null | undefined): string {
  return r === null || r === undefined ? '–' : `${(r * 100).toFixed(1)} %`;
}
function timeOf(iso: string | null | undefined): string {
  return iso === null || iso === undefined ? '–' : new Date(iso).toLocaleString();
}
const cgroupHref = (path: string): string => `#/cgroup/${encodeURIComponent(path)}`;
const snapshotHref = (id: string): string => `#/snapshot/${encodeURIComponent(id)}`;

/** Fetches `url` now and every `everyMs` (0: once); one request at a time, never overlapping. */
function usePoll<T>(url: string, everyMs: number): { data: T | undefined; error: string | undefined; at: Date | undefined } {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined; at: Date | undefined }>({ data: undefined, error: undefined, at: undefined });
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const ac = new AbortController();
    setState({ data: undefined, error: undefined, at: undefined });
    const tick = async (): Promise<void> => {
      try {
        const res = await fetch(url, { signal: ac.signal, headers: { accept: 'application/json' } });
        const body = (await res.json()) as T & { error?: string };
        if (stopped) return;
        if (!res.ok) setState((s) => ({ ...s, error: body.error ?? `HTTP ${res.status}` }));
        else setState({ data: body, error: undefined, at: new Date() });
      } catch (err) {
        if (stopped) return;
        setState((s) => ({ ...s, error: String(err) }));
      }
      if (!stopped && everyMs > 0) timer = window.setTimeout(() => void tick(), everyMs);
    };
    void tick();
    return () => {
      stopped = true;
      ac.abort();
      window.clearTimeout(timer);
    };
  }, [url, everyMs]);
  return state;
}

function Updated({ at, error, dataTime }: { at: Date | undefined; error: string | undefined; dataTime?: string | null | undefined }): preact.JSX.Element {
  return (
    <p class="updated" data-testid="last-updated">
      {at === undefined ? 'loading…' : `last updated ${at.toLocaleTimeString()}`}
      {dataTime !== undefined && dataTime !== null ? ` · data collected ${new Date(dataTime).toLocaleTimeString()}` : ''}
      {error !== undefined ? <span class="error"> · {error}</span> : null}
    </p>
  );
}

function Bar({ ratio }: { ratio: number | null }): preact.JSX.Element {
  const r = ratio === null ? 0 : Math.max(0, Math.min(1, ratio));
  const cls = r >= 0.95 ? 'bar crit' : r >= 0.8 ? 'bar warn' : 'bar';
  return (
    <div class={cls} title={pct(ratio)}>
      <div class="fill" style={{ width: `${(r * 100).toFixed(1)}%` }} />
    </div>
  );
}

/** A sparkline as an SVG path: cheap for a thousand rows (uPlot draws the big chart). */
function Spark({ values, max }: { values: (number | null)[]; max: number | null }): preact.JSX.Element {
  const w = 120;
  const h = 24;
  const top = max ?? Math.max(1, ...values.map((v) => v ?? 0));
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    const x = values.length <= 1 ? 0 : (i / (values.length - 1)) * w;
    const y = h - Math.min(1, v / top) * (h - 2) - 1;
    // A reading with no neighbour (the first minutes, or a gap) is drawn as a short dash.
    const alone = !pen && (values[i + 1] === null || values[i + 1] === undefined);
    d += alone ? `M${(x - 2).toFixed(1)},${y.toFixed(1)}h2` : `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  });
  return (
    <svg class="spark" width={w} height={h} viewBox={`0 0 ${w} ${h}`} aria-label="usage over the last 30 minutes">
      <path d={d} />
    </svg>
  );
}

// ---- views
function CgroupsView(): preact.JSX.Element {
  const { data, error, at } = usePoll<CgroupsResponse>('/api/v1/cgroups', REFRESH_MS);
  const [filter, setFilter] = useState('');
  const [all, setAll] = useState(false);
  const rows = useMemo(() => (data?.cgroups ?? []).filter((r) => filter === '' || r.cgroup.includes(filter)), [data, filter]);
  const shown = all ? rows : rows.slice(0, 200);
  return (
    <section>
      <h1>Cgroups by headroom</h1>
      <Updated at={at} error={error} dataTime={data?.updated} />
      <p class="hint">Usage against the <b>effective</b> limit (the tightest of the cgroup's own, its ancestors' and the host's RAM): the one the OOM killer enforces. Sparklines: the last 30 minutes.</p>
      <input class="filter" type="search" placeholder="filter cgroups" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
      <table class="cgroups">
        <thead><tr><th>cgroup</th><th>usage of effective limit</th><th>usage</th><th>effective limit</th><th>headroom</th><th>last 30 min</th><th>procs</th></tr></thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.cgroup} data-testid="cgroup-row" data-cgroup={r.cgroup}>
              <td class="path"><a href={cgroupHref(r.cgroup)}>{r.cgroup}</a>{r.limitBytes !== null ? <span class="tag">limit</span> : null}</td>
              <td class="nowrap"><Bar ratio={r.usageRatio} /><span class="pct" data-testid="usage-pct">{pct(r.usageRatio)}</span></td>
              <td class="num">{fmtBytes(r.usageBytes)}</td>
              <td class="num">{fmtBytes(r.effectiveLimitBytes)}</td>
              <td class="num">{fmtBytes(r.headroomBytes)}</td>
              <td><Spark values={r.spark} max={1000} /></td>
              <td class="num">{r.processes ?? '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > shown.length ? <button onClick={() => setAll(true)}>show all {rows.length}</button> : null}
      {data !== undefined && data.cgroups.length === 0 ? <p class="empty">No cgroup seen yet (no memory controller, or nothing collected yet).</p> : null}
    </section>
  );
}

function UsageChart({ series, limit }: { series: [number, number][]; limit: number | undefined }): preact.JSX.Element {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (el.current === null) return undefined;
    const xs = series.map((p) => p[0] / 1000);
    const data: uPlot.AlignedData = [xs, series.map((p) => p[1] / 2 ** 20), series.map(() => (limit === undefined ? null : limit / 2 ** 20))];
    if (plot.current === null) {
      const dark = window.matchMedia('(prefers-color-scheme: dark)').matches;
      const axis = { stroke: dark ? '#bbb' : '#333', grid: { stroke: dark ? '#333' : '#eee' } };
      plot.current = new uPlot(
        {
          width: Math.min(900, el.current.clientWidth || 800), height: 220,
          series: [{}, { label: 'usage MiB', stroke: '#2f7ed8', width: 2 }, { label: 'effective limit MiB', stroke: '#d9534f', dash: [6, 4] }],
          axes: [axis, { ...axis, label: 'MiB' }],
        },
        data,
        el.current,
      );
    } else plot.current.setData(data);
    return undefined;
  }, [series, limit]);
  useEffect(() => () => plot.current?.destroy(), []);
  return <div class="chart" ref={el} data-testid="usage-chart" />;
}

function StatTable({ stat, usage }: { stat: Record<string, number>; usage: number | undefined }): preact.JSX.Element {
  const items = Object.entries(stat).filter(([k]) => !k.startsWith('inactive_') && !k.startsWith('active_')).sort((a, b) => b[1] - a[1]);
  return (
    <table class="stat" data-testid="memory-stat">
      <thead><tr><th>memory.stat</th><th>bytes</th><th>share of usage</th></tr></thead>
      <tbody>
        {items.map(([k, v]) => (
          <tr key={k}><td>{k}</td><td class="num">{fmtBytes(v)}</td><td><Bar ratio={usage === undefined || usage === 0 ? null : v / usage} /></td></tr>
        ))}
      </tbody>
    </table>
  );
}

function Split({ anon, file, shmem }: { anon?: number | undefined; file?: number | undefined; shmem?: number | undefined }): preact.JSX.Element {
  const total = (anon ?? 0) + (file ?? 0) + (shmem ?? 0);
  const w = (x: number | undefined): string => `${total === 0 ? 0 : ((x ?? 0) / total) * 100}%`;
  return (
    <div class="split" title={`anon ${fmtBytes(anon)}, file ${fmtBytes(file)}, shmem ${fmtBytes(shmem)}`}>
      <div class="anon" style={{ width: w(anon) }} />
      <div class="file" style={{ width: w(file) }} />
      <div class="shmem" style={{ width: w(shmem) }} />
    </div>
  );
}

function ProcessTable({ rows, testid }: { rows: ProcessRow[]; testid: string }): preact.JSX.Element {
  return (
    <table data-testid={testid}>
      <thead><tr><th>pid</th><th>comm</th><th>RSS</th><th>PSS</th><th>USS</th><th>anon / file / shmem</th><th>swap</th><th>oom_score</th><th>cgroup</th></tr></thead>
      <tbody>
        {rows.map((p) => (
          <tr key={p.pid} data-testid="process-row" data-comm={p.comm}>
            <td class="num">{p.pid}</td><td>{p.comm}</td><td class="num">{fmtBytes(p.rssBytes)}</td><td class="num">{fmtBytes(p.pssBytes)}</td><td class="num">{fmtBytes(p.ussBytes)}</td>
            <td><Split anon={p.rssAnonBytes} file={p.rssFileBytes} shmem={p.rssShmemBytes} /></td><td class="num">{fmtBytes(p.swapBytes)}</td><td class="num">{p.oomScore ?? '–'}</td><td class="path">{p.cgroup}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CgroupView({ path }: { path: string }): preact.JSX.Element {
  const { data, error, at } = usePoll<CgroupDetail>(`/api/v1/cgroup?cgroup=${encodeURIComponent(path)}`, REFRESH_MS);
  const c = data?.cgroup;
  const ratio = c?.usageBytes !== undefined && c.effectiveLimitBytes ? c.usageBytes / c.effectiveLimitBytes : null;
  return (
    <section>
      <p class="crumbs"><a href="#/">cgroups</a> / <span class="path">{path}</span></p>
      <h1 data-testid="cgroup-title">{path}</h1>
      <Updated at={at} error={error} dataTime={data?.updated} />
      {c === undefined ? null : (
        <div>
          <div class="facts">
            <div><b>usage</b> {fmtBytes(c.usageBytes)} ({pct(ratio)} of the effective limit)</div>
            <div><b>effective limit</b> {fmtBytes(c.effectiveLimitBytes)}</div>
            <div><b>own limit</b> {c.limitBytes === undefined ? 'none' : fmtBytes(c.limitBytes)}</div>
            <div><b>working set</b> {fmtBytes(c.workingSetBytes)}</div>
            <div><b>peak</b> {fmtBytes(c.peakBytes)}</div>
            <div><b>processes</b> {c.processes ?? '–'}</div>
            <div><b>OOM kills</b> {c.oomKills ?? '–'}</div>
          </div>
          <Bar ratio={ratio} />
          <UsageChart series={data?.series ?? []} limit={c.effectiveLimitBytes} />
          <h2>Processes</h2>
          <p class="hint">{data?.processesNote}</p>
          <ProcessTable rows={data?.processes ?? []} testid="processes" />
          {data?.atLatestSnapshot ? (
            <div>
              <h3>Every process at the newest snapshot, <a href={snapshotHref(data.atLatestSnapshot.id)}>{data.atLatestSnapshot.id}</a> ({timeOf(data.atLatestSnapshot.time)})</h3>
              <ProcessTable rows={data.atLatestSnapshot.processes} testid="snapshot-processes-of-cgroup" />
            </div>
          ) : null}
          <p class="legend"><span class="anon">anon</span> <span class="file">file</span> <span class="shmem">shmem</span></p>
          <h2>Memory breakdown</h2>
          <StatTable stat={c.stat} usage={c.usageBytes} />
          {Object.keys(c.events).length > 0 ? <p class="events">{Object.entries(c.events).map(([k, v]) => `${k} ${v}`).join(' · ')}</p> : null}
          <h2>Threshold crossings and events</h2>
          {(data?.events ?? []).length === 0 ? <p class="empty">None recently.</p> : (
            <ul class="events" data-testid="events">
              {data!.events.map((e) => <li key={e.id}>{timeOf(e.time)}: {e.threshold !== null ? `crossed ${Math.round(e.threshold * 100)} %` : e.event ?? 'event'} · usage {fmtBytes(e.usageBytes)} of {fmtBytes(e.limitBytes)} [{e.source}]</li>)}
            </ul>
          )}
          <h2>OOM kills</h2>
          {(data?.kills ?? []).length === 0 ? <p class="empty">None.</p> : (
            <ul>{data!.kills.map((k) => <li key={k.id}>{timeOf(k.time)}: {k.victim.comm} (pid {k.victim.pid}) · <a data-testid="kill-link" href={`#/kills?cgroup=${encodeURIComponent(path)}`}>why it was killed</a>{k.snapshotId !== undefined ? <span> · <a href={snapshotHref(k.snapshotId)}>snapshot</a></span> : null}</li>)}</ul>
          )}
          <h2>Snapshots</h2>
          {(data?.snapshots ?? []).length === 0 ? <p class="empty">None.</p> : (
            <ul>{data!.snapshots.map((s) => <li key={s.id}><a href={snapshotHref(s.id)}>{s.id}</a> · {timeOf(s.time)} · {s.processes} processes · {s.reason}</li>)}</ul>
          )}
        </div>
      )}
    </section>
  );
}

function KillCard({ k }: { k: KillRecord }): preact.JSX.Element {
  const e = k.explanation;
  return (
    <article class="kill" data-testid="kill" data-kill={k.id}>
      <h2>{k.victim.comm} <small>pid {k.victim.pid} · {timeOf(k.time)}</small></h2>
      <p class="path">victim's cgroup <a href={k.cgroup !== undefined ? cgroupHref(k.cgroup) : '#/'}>{k.cgroup ?? '?'}</a>{k.oomCgroup !== undefined && k.oomCgroup !== k.cgroup ? <span> · limit hit by <a href={cgroupHref(k.oomCgroup)}>{k.oomCgroup}</a></span> : null}</p>
      {e === undefined ? null : (
        <div>
          <p class="summary" data-testid="kill-summary">{e.summary}</p>
          <dl>
            <dt>limit hit</dt><dd>{e.limit.text}</dd>
            <dt>growth</dt><dd>{e.growth?.text ?? 'unknown'}</dd>
            {e.grew !== undefined ? <><dt>grew the most</dt><dd data-testid="kill-grew">{e.grew.comm} (pid {e.grew.pid}): +{fmtBytes(e.grew.bytes)} in {e.grew.seconds.toFixed(1)} s{e.grew.victim ? ' (the victim)' : ''}</dd></> : null}
            {(e.memory?.notes ?? []).length > 0 ? <><dt>memory</dt><dd>{e.memory!.notes.join('; ')}</dd></> : null}
          </dl>
          {e.processes.length > 0 ? (
            <table>
              <thead><tr><th>pid</th><th>comm</th><th>RSS</th><th>PSS</th><th>anon / file / shmem</th><th>growth</th><th>from</th></tr></thead>
              <tbody>
                {e.processes.map((p) => (
                  <tr key={p.pid} class={p.victim ? 'victim' : ''}>
                    <td class="num">{p.pid}</td><td>{p.comm}{p.victim ? ' ✝' : ''}</td><td class="num">{fmtBytes(p.rssBytes)}</td><td class="num">{fmtBytes(p.pssBytes)}</td>
                    <td><Split anon={p.anonBytes} file={p.fileBytes} shmem={p.shmemBytes} /></td>
                    <td class="num">{p.growth === undefined ? '–' : `${p.growth.bytes >= 0 ? '+' : ''}${fmtBytes(p.growth.bytes)} / ${p.growth.seconds.toFixed(0)} s`}</td><td>{p.source}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {e.signals.length > 0 ? <ul class="signals">{e.signals.map((s, i) => <li key={i}>pid {s.pid} ({s.comm ?? '?'}), rule {s.rule}: {s.action}: {s.detail}</li>)}</ul> : null}
          {e.missing.length > 0 ? (
            <details open={e.snapshot === undefined}>
              <summary>missing evidence ({e.missing.length})</summary>
              <ul data-testid="kill-missing">{e.missing.map((m, i) => <li key={i}><b>{m.what}</b>: {m.why}</li>)}</ul>
            </details>
          ) : null}
        </div>
      )}
      <p>{k.snapshotId !== undefined ? <a data-testid="snapshot-link" href={snapshotHref(k.snapshotId)}>snapshot {k.snapshotId}</a> : <span class="empty">no snapshot</span>} · <a href={`/api/v1/oom-kills/${encodeURIComponent(k.id)}/explain`}>JSON</a></p>
    </article>
  );
}

function KillsView({ cgroup }: { cgroup: string | undefined }): preact.JSX.Element {
  const filter = cgroup === undefined ? '' : `&cgroup=${encodeURIComponent(cgroup)}`;
  const { data, error, at } = usePoll<{ kills: KillRecord[] }>(`/api/v1/oom-kills?limit=50&explain=true${filter}`, REFRESH_MS);
  return (
    <section>
      <h1>OOM kills{cgroup === undefined ? '' : ` in ${cgroup}`}</h1>
      {cgroup === undefined ? null : <p class="crumbs"><a href={cgroupHref(cgroup)}>back to the cgroup</a> · <a href="#/kills">every kill</a></p>}
      <Updated at={at} error={error} />
      {data !== undefined && data.kills.length === 0 ? <p class="empty">No OOM kill recorded since the kernel's log buffer began.</p> : null}
      {(data?.kills ?? []).map((k) => <KillCard key={k.id} k={k} />)}
    </section>
  );
}

function SnapshotView({ id }: { id: string }): preact.JSX.Element {
  // A snapshot never changes once written (except for the kills linked to it): loaded once.
  const { data, error, at } = usePoll<SnapshotDoc>(`/api/v1/snapshots/${encodeURIComponent(id)}`, 0);
  const procs = [...(data?.processes ?? [])].sort((a, b) => (b.status?.residentBytes ?? 0) - (a.status?.residentBytes ?? 0));
  return (
    <section>
      <p class="crumbs"><a href="#/kills">OOM kills</a> / snapshot</p>
      <h1 data-testid="snapshot-title">Snapshot {id}</h1>
      <Updated at={at} error={error} />
      {data === undefined ? null : (
        <div>
          <div class="facts">
            <div><b>cgroup</b> <a href={cgroupHref(data.cgroup)}>{data.cgroup}</a></div>
            <div><b>taken</b> {timeOf(data.time)} (capture {data.captureDurationMs.toFixed(1)} ms)</div>
            <div><b>why</b> {data.reason}</div>
            <div><b>OOM kills</b> {data.oomKills.length === 0 ? 'none linked' : data.oomKills.join(', ')}</div>
            {data.hold !== undefined ? <div><b>OOM killer held</b> {data.hold.restoredAtMs !== undefined ? `${data.hold.restoredAtMs - data.hold.setAtMs} ms` : 'yes'}</div> : null}
          </div>
          <h2>Cgroups</h2>
          <table>
            <thead><tr><th>cgroup</th><th>usage</th><th>limit</th><th>effective limit</th><th>anon</th><th>page cache</th><th>pids</th></tr></thead>
            <tbody>{data.cgroups.map((c) => <tr key={c.path}><td class="path">{c.path}</td><td class="num">{fmtBytes(c.usageBytes)}</td><td class="num">{c.limitBytes === 'max' ? 'none' : fmtBytes(c.limitBytes)}</td><td class="num">{c.effectiveLimitBytes === 'max' ? 'none' : fmtBytes(c.effectiveLimitBytes)}</td><td class="num">{fmtBytes(c.stat['anon'])}</td><td class="num">{fmtBytes(c.stat['file'])}</td><td class="num">{c.pids.length}</td></tr>)}</tbody>
          </table>
          <h2>Processes</h2>
          <table data-testid="snapshot-processes">
            <thead><tr><th>pid</th><th>comm</th><th>RSS</th><th>PSS</th><th>USS</th><th>anon / file / shmem</th><th>swap</th><th>oom_score (adj)</th><th>captured</th></tr></thead>
            <tbody>
              {procs.slice(0, 500).map((p) => (
                <tr key={p.pid} data-testid="snapshot-process" data-comm={p.comm ?? ''}>
                  <td class="num">{p.pid}</td><td>{p.comm ?? '?'}</td><td class="num">{fmtBytes(p.status?.residentBytes)}</td><td class="num">{fmtBytes(p.smapsRollup?.pssBytes)}</td><td class="num">{fmtBytes(p.smapsRollup?.ussBytes)}</td>
                  <td><Split anon={p.status?.residentAnonBytes} file={p.status?.residentFileBytes} shmem={p.status?.residentShmemBytes} /></td>
                  <td class="num">{fmtBytes(p.status?.swapBytes)}</td><td class="num">{p.oomScore ?? '–'} ({p.oomScoreAdj ?? '–'})</td><td>{p.stage}{p.goneAt !== undefined ? ` (gone at ${p.goneAt})` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {procs.length > 500 ? <p class="hint">{procs.length - 500} more processes in the JSON.</p> : null}
          <h2>Top mappings, signals and hook outputs</h2>
          {procs.slice(0, 50).map((p) => (
            <details key={p.pid} open={procs.indexOf(p) === 0}>
              <summary>{p.comm ?? '?'} (pid {p.pid}): {(p.topMappings ?? []).length} mappings, {p.actions.length} actions</summary>
              {(p.topMappings ?? []).length > 0 ? (
                <table>
                  <thead><tr><th>mapping</th><th>VMAs</th><th>RSS</th><th>PSS</th><th>anonymous</th><th>swap</th></tr></thead>
                  <tbody>{p.topMappings!.map((m) => <tr key={m.name}><td class="path">{m.name}</td><td class="num">{m.vmas}</td><td class="num">{fmtBytes(m.rssBytes)}</td><td class="num">{fmtBytes(m.pssBytes)}</td><td class="num">{fmtBytes(m.anonymousBytes)}</td><td class="num">{fmtBytes(m.swapBytes)}</td></tr>)}</tbody>
                </table>
              ) : null}
              {p.actions.map((a, i) => (
                <div key={i} class="action">
                  {a.kind === 'signal'
                    ? <p>rule {a.rule}: {a.signal} {a.sent === true ? 'sent (the process writes its own dump)' : `not sent: ${a.skipped ?? '?'}`}</p>
                    : <div><p>rule {a.rule}: <code>{(a.argv ?? []).join(' ')}</code>: {a.error ?? (a.timedOut === true ? 'timed out' : `exit ${a.exitCode ?? '?'}`)}, {a.outputBytes ?? 0} bytes</p><pre>{a.output}</pre></div>}
                </div>
              ))}
              {p.errors.length > 0 ? <p class="error">{p.errors.join('; ')}</p> : null}
            </details>
          ))}
          <p><a href={`/api/v1/snapshots/${encodeURIComponent(id)}`}>the whole document (JSON)</a></p>
        </div>
      )}
    </section>
  );
}

// ---- routing
function parseRoute(hash: string): { view: 'cgroups' } | { view: 'cgroup'; path: string } | { view: 'kills'; cgroup: string | undefined } | { view: 'snapshot'; id: string } {
  const h = hash.replace(/^#/, '');
  if (h.startsWith('/kills?cgroup=')) return { view: 'kills', cgroup: decodeURIComponent(h.slice('/kills?cgroup='.length)) };
  if (h.startsWith('/cgroup/')) return { view: 'cgroup', path: decodeURIComponent(h.slice('/cgroup/'.length)) };
  if (h.startsWith('/snapshot/')) return { view: 'snapshot', id: decodeURIComponent(h.slice('/snapshot/'.length)) };
  if (h === '/kills') return { view: 'kills', cgroup: undefined };
  return { view: 'cgroups' };
}

function App(): preact.JSX.Element {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return (
    <div>
      <nav>
        <span class="brand">memlens</span>
        <a href="#/" class={route.view === 'cgroups' || route.view === 'cgroup' ? 'on' : ''}>Cgroups</a>
        <a href="#/kills" class={route.view === 'kills' || route.view === 'snapshot' ? 'on' : ''} data-testid="nav-kills">OOM kills</a>
        <a href="/metrics" class="right">/metrics</a>
      </nav>
      <main>
        {route.view === 'cgroups' ? <CgroupsView /> : route.view === 'cgroup' ? <CgroupView key={route.path} path={route.path} /> : route.view === 'kills' ? <KillsView key={route.cgroup ?? ''} cgroup={route.cgroup} /> : <SnapshotView key={route.id} id={route.id} />}
      </main>
    </div>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the "loading" placeholder: render() diffs against what is there
render(<App />, root);
