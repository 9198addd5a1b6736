// heapsummary.mjs FILE.heapsnapshot [TOP]   what a V8 heap snapshot (node --heapsnapshot-signal, or
// v8.writeHeapSnapshot) holds: self size by node type and constructor, and the largest retained
// sizes (dominator tree, Cooper-Harvey-Kennedy) with the path that holds them. Used by
// bench/memprofile.sh's notes in bench/RESULTS.md; not part of memlens.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const top = Number(process.argv[3] ?? '25');
if (file === undefined) throw new Error('usage: heapsummary.mjs FILE.heapsnapshot [TOP]');
const snap = JSON.parse(readFileSync(file, 'utf8'));
const meta = snap.snapshot.meta;
const nf = meta.node_fields.length;
const ef = meta.edge_fields.length;
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const N = snap.nodes.length / nf;
const iType = meta.node_fields.indexOf('type');
const iName = meta.node_fields.indexOf('name');
const iSize = meta.node_fields.indexOf('self_size');
const iEdges = meta.node_fields.indexOf('edge_count');
const eType = meta.edge_fields.indexOf('type');
const eName = meta.edge_fields.indexOf('name_or_index');
const eTo = meta.edge_fields.indexOf('to_node');
const strings = snap.strings;
const nodes = snap.nodes;
const edges = snap.edges;

const firstEdge = new Uint32Array(N + 1);
for (let i = 0, e = 0; i < N; i++) {
  firstEdge[i] = e;
  e += nodes[i * nf + iEdges] * ef;
  firstEdge[i + 1] = e;
}
const type = (i) => nodeTypes[nodes[i * nf + iType]];
const name = (i) => strings[nodes[i * nf + iName]];
const size = (i) => nodes[i * nf + iSize];
const MiB = (b) => (b / 1048576).toFixed(2);

// Self size by type/constructor.
const byKind = new Map();
let total = 0;
for (let i = 0; i < N; i++) {
  const t = type(i);
  const k = t === 'object' || t === 'native' || t === 'closure' ? `${t}:${name(i)}` : t;
  const v = byKind.get(k) ?? { n: 0, bytes: 0 };
  v.n++;
  v.bytes += size(i);
  byKind.set(k, v);
  total += size(i);
}
console.log(`# ${N} nodes, self sizes total ${MiB(total)} MiB`);
console.log('## self size by type / constructor');
for (const [k, v] of [...byKind].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) console.log(`${MiB(v.bytes).padStart(8)} MiB ${String(v.n).padStart(8)}  ${k.slice(0, 100)}`);

// Dominators over strong edges (weak edges do not retain), from the root (node 0).
const isWeak = (e) => edgeTypes[edges[e + eType]] === 'weak';
const order = new Int32Array(N).fill(-1); // post-order number
const rpo = [];
{
  const stack = [0];
  const it = new Uint32Array(N);
  const seen = new Uint8Array(N);
  seen[0] = 1;
  for (let i = 0; i < N; i++) it[i] = firstEdge[i];
  let post = 0;
  while (stack.length > 0) {
    const v = stack[stack.length - 1];
    let pushed = false;
    while (it[v] < firstEdge[v + 1]) {
      const e = it[v];
      it[v] += ef;
      if (isWeak(e)) continue;
      const w = edges[e + eTo] / nf;
      if (!seen[w]) {
        seen[w] = 1;
        stack.push(w);
        pushed = true;
        break;
      }
    }
    if (!pushed) {
      stack.pop();
      order[v] = post++;
      rpo.push(v);
    }
  }
  rpo.reverse();
}
const preds = new Map();
for (let v = 0; v < N; v++) {
  if (order[v] < 0) continue;
  for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += ef) {
    if (isWeak(e)) continue;
    const w = edges[e + eTo] / nf;
    let p = preds.get(w);
    if (p === undefined) preds.set(w, (p = []));
    p.push(v);
  }
}
const idom = new Int32Array(N).fill(-1);
idom[0] = 0;
const intersect = (a, b) => {
  while (a !== b) {
    while (order[a] < order[b]) a = idom[a];
    while (order[b] < order[a]) b = idom[b];
  }
  return a;
};
for (let changed = true; changed; ) {
  changed = false;
  for (const v of rpo) {
    if (v === 0) continue;
    let d = -1;
    for (const p of preds.get(v) ?? []) {
      if (idom[p] < 0) continue;
      d = d < 0 ? p : intersect(p, d);
    }
    if (d >= 0 && idom[v] !== d) {
      idom[v] = d;
      changed = true;
    }
  }
}
const retained = new Float64Array(N);
for (let i = rpo.length - 1; i >= 0; i--) {
  const v = rpo[i];
  retained[v] += size(v);
  if (v !== 0) retained[idom[v]] += retained[v];
}
// A path from the root to a node, by the first strong retainer with an idom chain.
const parentEdge = new Map();
for (const v of rpo) {
  for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += ef) {
    if (isWeak(e)) continue;
    const w = edges[e + eTo] / nf;
    if (!parentEdge.has(w) && w !== 0) {
      const et = edgeTypes[edges[e + eType]];
      const en = et === 'element' || et === 'hidden' ? `[${edges[e + eName]}]` : strings[edges[e + eName]];
      parentEdge.set(w, [v, en]);
    }
  }
}
const path = (v) => {
  const out = [];
  for (let k = 0; k < 12 && v !== 0; k++) {
    const p = parentEdge.get(v);
    if (p === undefined) break;
    out.push(`${p[1]}`);
    v = p[0];
  }
  return out.reverse().join('.');
};
console.log('## largest retained sizes (objects not dominated by another listed one)');
const cands = [];
for (let v = 1; v < N; v++) if (order[v] >= 0 && retained[v] > 256 * 1024) cands.push(v);
cands.sort((a, b) => retained[b] - retained[a]);
const listed = new Set();
let shown = 0;
for (const v of cands) {
  let d = idom[v];
  let covered = false;
  while (d > 0) {
    if (listed.has(d)) {
      covered = true;
      break;
    }
    d = idom[d];
  }
  listed.add(v);
  if (covered && type(v) !== 'synthetic') continue;
  console.log(`${MiB(retained[v]).padStart(8)} MiB  ${type(v)}:${name(v).slice(0, 60)}  via ${path(v).slice(0, 160)}`);
  if (++shown >= top) break;
}

// Each large kind's bytes by its owner: the nearest dominator that is an object with its own constructor.
const generic = new Set(['Object', 'Array', 'system / Context', 'Map', 'Set', '', 'ArrayBuffer', 'Buffer', 'Uint8Array', 'Float64Array', 'Float32Array']);
const owner = (v) => {
  let d = idom[v];
  for (let k = 0; k < 50 && d > 0; k++) {
    if (type(d) === 'object' && !generic.has(name(d))) return name(d);
    d = idom[d];
  }
  return d === 0 ? '(root)' : '?';
};
for (const kind of ['native:system / JSArrayBufferData', 'string', 'object:Object', 'array', 'object shape', 'code']) {
  const by = new Map();
  for (let v = 1; v < N; v++) {
    if (order[v] < 0) continue;
    const t = type(v);
    const k = t === 'object' || t === 'native' || t === 'closure' ? `${t}:${name(v)}` : t;
    if (k !== kind) continue;
    const o = owner(v);
    by.set(o, (by.get(o) ?? 0) + size(v));
  }
  console.log(`## ${kind} by owner`);
  for (const [o, b] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`${MiB(b).padStart(8)} MiB  ${o}`);
}

console.log('## largest single objects');
const big = [];
for (let v = 1; v < N; v++) if (order[v] >= 0 && size(v) > 512 * 1024) big.push(v);
big.sort((a, b) => size(b) - size(a));
for (const v of big.slice(0, 10)) console.log(`${MiB(size(v)).padStart(8)} MiB  ${type(v)}:${name(v).slice(0, 40).replace(/\n/g, ' ')}  via ${path(v).slice(0, 200)}`);
