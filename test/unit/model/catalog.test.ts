import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { catalog } from '../../../src/model/catalog.js';
import { catalogMarkdown } from '../../../src/model/catalogTable.js';
import { optionsMarkdown } from '../../../src/config/docs.js';
import { collectorsMarkdown } from '../../../src/collectors/registry.js';
import { otlpToPrometheusName } from '../../helpers/otlpTranslate.js';

test('the translation helper gives what prometheus/otlptranslator documents', () => {
  // Examples from otlptranslator's own documentation comments (metric_namer.go) and rules.
  assert.equal(otlpToPrometheusName('http.server.request.duration', 's', 'histogram'), 'http_server_request_duration_seconds');
  assert.equal(otlpToPrometheusName('requests.count', '1', 'counter'), 'requests_count_total');
  assert.equal(otlpToPrometheusName('memory.usage', 'By', 'gauge'), 'memory_usage_bytes');
  assert.equal(otlpToPrometheusName('cpu.utilization', '1', 'gauge'), 'cpu_utilization_ratio');
  assert.equal(otlpToPrometheusName('disk.io', 'By/s', 'gauge'), 'disk_io_bytes_per_second');
  assert.equal(otlpToPrometheusName('packets', '{packet}', 'counter'), 'packets_total');
  assert.equal(otlpToPrometheusName('already.total', '', 'counter'), 'already_total');
  assert.equal(otlpToPrometheusName('size.bytes', 'By', 'gauge'), 'size_bytes');
});

test('every Prometheus name is the OTLP-to-Prometheus translation of its OTel name, unit and type', () => {
  for (const d of catalog) assert.equal(otlpToPrometheusName(d.otel, d.unit, d.kind), d.prom, d.prom);
});

test('histograms declare ascending buckets; other kinds declare none', () => {
  for (const d of catalog) {
    if (d.kind !== 'histogram') {
      assert.equal(d.buckets, undefined, d.prom);
      continue;
    }
    assert.ok(d.buckets !== undefined && d.buckets.length > 0, `${d.prom}: buckets`);
    for (let i = 1; i < d.buckets.length; i++) assert.ok(d.buckets[i]! > d.buckets[i - 1]!, `${d.prom}: ascending`);
  }
});

test('names follow the conventions: memlens_ prefix, base units, _total only and always on counters', () => {
  const seen = new Set<string>();
  for (const d of catalog) {
    assert.match(d.prom, /^memlens_[a-z0-9_]+$/, d.prom);
    assert.ok(!seen.has(d.prom), `duplicate ${d.prom}`);
    seen.add(d.prom);
    assert.equal(d.prom.endsWith('_total'), d.kind === 'counter', `${d.prom}: _total iff counter`);
    if (d.unit === 'By') assert.match(d.prom, /_bytes(_total)?$/, d.prom);
    if (d.unit === 's') assert.match(d.prom, /_seconds(_total)?$/, d.prom);
    assert.doesNotMatch(d.prom, /_(kb|kilobytes|ms|milliseconds)(_|$)/, `${d.prom}: base units only`);
    for (const l of d.labels) {
      assert.match(l.name, /^[a-z][a-z_]*$/);
      // The Kubernetes info metric carries namespace/pod/container on purpose (issue 12), as
      // kube-state-metrics does: its scrape config keeps them with honor_labels (the chart's monitors do).
      const clashing = d.prom === 'memlens_cgroup_kubernetes_info' ? ['type', 'name', 'instance', 'job'] : ['type', 'name', 'instance', 'job', 'namespace', 'pod'];
      assert.ok(!clashing.includes(l.name), `${d.prom}: label ${l.name} clashes`);
      assert.ok(l.bound.length > 0, `${d.prom}: label ${l.name} says why it is bounded`);
    }
  }
});

test('every metric of DESIGN.md\'s catalog for the foundation issue is in the catalog', () => {
  const names = new Set(catalog.map((d) => d.prom));
  const required = [
    'memlens_cgroup_memory_usage_bytes', 'memlens_cgroup_memory_limit_bytes', 'memlens_cgroup_memory_effective_limit_bytes',
    'memlens_cgroup_memory_working_set_bytes', 'memlens_cgroup_memory_stat_bytes', 'memlens_cgroup_memory_peak_bytes',
    'memlens_cgroup_memory_swap_usage_bytes', 'memlens_cgroup_memory_events_total', 'memlens_cgroup_memory_oom_kills_total',
    'memlens_cgroup_memory_under_oom', 'memlens_cgroup_memory_pressure_seconds_total', 'memlens_cgroup_processes',
    'memlens_process_resident_bytes', 'memlens_process_resident_anon_bytes', 'memlens_process_resident_file_bytes',
    'memlens_process_resident_shmem_bytes', 'memlens_process_resident_peak_bytes', 'memlens_process_virtual_bytes',
    'memlens_process_swap_bytes', 'memlens_process_pss_bytes', 'memlens_process_pss_anon_bytes', 'memlens_process_pss_file_bytes',
    'memlens_process_pss_shmem_bytes', 'memlens_process_uss_bytes', 'memlens_process_swap_pss_bytes',
    'memlens_process_page_tables_bytes', 'memlens_process_oom_score', 'memlens_process_oom_score_adj',
    'memlens_process_smaps_read_seconds_total', 'memlens_process_group_processes', 'memlens_process_group_resident_bytes',
    'memlens_host_memory_total_bytes', 'memlens_host_memory_available_bytes', 'memlens_host_memory_swap_total_bytes',
    'memlens_host_memory_swap_free_bytes', 'memlens_host_oom_kills_total', 'memlens_host_memory_pressure_seconds_total',
    'memlens_collector_success', 'memlens_collector_duration_seconds', 'memlens_build_info',
  ];
  for (const r of required) assert.ok(names.has(r), `missing ${r}`);
});

function readmeSection(name: string, body: string): void {
  const readme = readFileSync('README.md', 'utf8');
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const a = readme.indexOf(begin);
  const b = readme.indexOf(end);
  assert.ok(a >= 0 && b > a, `README.md has the ${name} markers`);
  const want = `${begin}\n${body}\n${end}`;
  const have = readme.slice(a, b + end.length);
  if (have !== want && process.env['UPDATE_GOLDEN'] === '1') {
    writeFileSync('README.md', readme.slice(0, a) + want + readme.slice(b + end.length));
    return;
  }
  assert.equal(have, want, `README ${name} table out of date: run UPDATE_GOLDEN=1 npm test`);
}

test('the README\'s metric table is the catalog (UPDATE_GOLDEN=1 rewrites it)', () => {
  readmeSection('catalog', catalogMarkdown(catalog));
});

test('the README\'s flag table is the option list (UPDATE_GOLDEN=1 rewrites it)', () => {
  readmeSection('flags', optionsMarkdown());
});

test('the README\'s collector table is the registry (UPDATE_GOLDEN=1 rewrites it)', () => {
  readmeSection('collectors', collectorsMarkdown());
});
