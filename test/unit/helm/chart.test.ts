// helm/memlens with a real helm (test/helpers/helm.ts): lint --strict, template with the default
// values, with every toggle on and in restricted mode; every rendered manifest validated against
// the Kubernetes 1.27 schemas (kubernetes-models) and prometheus-operator's; the DaemonSet checked
// for what memlens needs on a node (hostPID, the /host mounts incl. /dev/kmsg, privileged, args,
// probes, a low oom_score_adj through Guaranteed QoS), and the checks shown to catch a chart that
// forgets /dev/kmsg.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseAllDocuments } from 'yaml';
import * as apps from 'kubernetes-models/apps/v1';
import * as core from 'kubernetes-models/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { helm, repoRoot } from '../../helpers/helm.js';

const CHART = `${repoRoot}helm/memlens`;
const FIX = `${repoRoot}test/fixtures/helm`;

type Obj = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/DaemonSet': apps.DaemonSet,
  'v1/Service': core.Service,
  'v1/ServiceAccount': core.ServiceAccount,
  'v1/ConfigMap': core.ConfigMap,
  'v1/Secret': core.Secret,
  'rbac.authorization.k8s.io/v1/ClusterRole': rbac.ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': rbac.ClusterRoleBinding,
  'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': monitoring.PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': monitoring.PrometheusRule,
};

/** A copy of the chart whose files/ holds rules and a dashboard (the fixtures, where dashboards/ gave none yet). */
function chartWithFiles(): { dir: string; dispose: () => void } {
  const tmp = mkdtempSync(`${tmpdir()}/memlens-chart-`);
  const dir = `${tmp}/memlens`;
  cpSync(CHART, dir, { recursive: true });
  if (!existsSync(`${dir}/files/alerts.yaml`)) cpSync(`${FIX}/alerts.yaml`, `${dir}/files/alerts.yaml`);
  if (readdirSync(`${dir}/files/dashboards`).filter((f) => f.endsWith('.json')).length === 0) cpSync(`${FIX}/dashboard.json`, `${dir}/files/dashboards/memlens-test.json`);
  return { dir, dispose: () => rmSync(tmp, { recursive: true, force: true }) };
}

function render(chart: string, valuesFiles: string[] = [], set: string[] = []): Obj[] {
  const r = helm(['template', 'mem', chart, '--namespace', 'monitoring', ...valuesFiles.flatMap((f) => ['-f', f]), ...set.flatMap((s) => ['--set', s])]);
  assert.equal(r.status, 0, `helm template failed: ${r.stderr}`);
  const docs = parseAllDocuments(r.stdout).map((d) => {
    assert.deepEqual(d.errors, [], 'rendered YAML parses');
    return d.toJS() as Obj | null;
  });
  return docs.filter((d): d is Obj => d !== null);
}

function validateAll(objs: Obj[]): void {
  for (const o of objs) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    assert.ok(Model !== undefined, `no schema for ${o.apiVersion} ${o.kind}: add it to MODELS`);
    assert.doesNotThrow(() => new Model(o as never).validate(), `${o.kind}/${o.metadata.name} is valid`);
    assert.match(o.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  }
}

interface Container { name: string; args?: string[]; env?: { name: string; value?: string }[]; securityContext?: Record<string, unknown>; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[]; livenessProbe?: { httpGet?: { path: string; port: string | number } }; readinessProbe?: { httpGet?: { path: string; port: string | number } }; resources?: { requests?: Record<string, string>; limits?: Record<string, string> }; ports?: { name: string; containerPort: number }[] }
interface PodSpec { hostPID?: boolean; containers: Container[]; volumes?: { name: string; hostPath?: { path: string; type?: string }; secret?: { secretName: string } }[]; tolerations?: unknown[]; priorityClassName?: string }

function daemonSet(objs: Obj[]): { spec: PodSpec; c: Container } {
  const ds = objs.filter((o) => o.kind === 'DaemonSet');
  assert.equal(ds.length, 1, 'one DaemonSet');
  const spec = (ds[0] as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
  const c = spec.containers.find((x) => x.name === 'memlens');
  assert.ok(c !== undefined, 'a memlens container');
  return { spec, c };
}

/** What memlens needs from the pod on a node, in either mode. Throws naming what is missing. */
export function checkNodeAccess(objs: Obj[], mode: 'privileged' | 'restricted'): void {
  const { spec, c } = daemonSet(objs);
  assert.equal(spec.hostPID, true, 'hostPID');
  const mount = (path: string): { hostPath: string; readOnly: boolean } => {
    const m = c.volumeMounts?.find((x) => x.mountPath === path);
    assert.ok(m !== undefined, `a volume mounted at ${path}`);
    const v = spec.volumes?.find((x) => x.name === m.name);
    assert.ok(v?.hostPath !== undefined, `${path} is a hostPath volume`);
    return { hostPath: v.hostPath.path, readOnly: m.readOnly === true };
  };
  assert.deepEqual(mount('/host/proc'), { hostPath: '/proc', readOnly: true });
  assert.deepEqual(mount('/host/sys'), { hostPath: '/sys', readOnly: true });
  assert.deepEqual(mount('/host/sys/fs/cgroup'), { hostPath: '/sys/fs/cgroup', readOnly: mode === 'restricted' }, 'the cgroup tree writable only when privileged');
  assert.deepEqual(mount('/host/dev/kmsg'), { hostPath: '/dev/kmsg', readOnly: true });
  assert.equal(mount('/var/lib/memlens').hostPath, '/var/lib/memlens');
  const args = c.args ?? [];
  for (const a of ['--path.procfs=/host/proc', '--path.sysfs=/host/sys', '--path.kmsg=/host/dev/kmsg', '--snapshot.dir=/var/lib/memlens/snapshots']) assert.ok(args.includes(a), `arg ${a}`);
  const port = c.ports?.find((p) => p.name === 'http-metrics');
  assert.ok(port !== undefined && args.includes(`--web.listen-address=:${port.containerPort}`), 'listens on the port it declares');
  for (const probe of [c.livenessProbe, c.readinessProbe]) assert.deepEqual(probe?.httpGet && { path: probe.httpGet.path, port: probe.httpGet.port }, { path: '/healthz', port: 'http-metrics' });
  const sc = c.securityContext ?? {};
  if (mode === 'privileged') assert.equal(sc['privileged'], true, 'privileged');
  else {
    assert.equal(sc['privileged'], false);
    assert.deepEqual(sc['capabilities'], { drop: ['ALL'], add: ['SYS_PTRACE', 'DAC_READ_SEARCH', 'SYSLOG'] });
  }
}

test('helm lint --strict: the chart, with default values, every toggle on, and restricted', () => {
  const { dir, dispose } = chartWithFiles();
  try {
    for (const [chart, f] of [[CHART, []], [dir, [`${FIX}/all-on.yaml`]], [CHART, [`${FIX}/restricted.yaml`]]] as const) {
      const r = helm(['lint', '--strict', chart, ...f.flatMap((x) => ['-f', x])]);
      assert.equal(r.status, 0, `helm lint --strict ${f.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  } finally {
    dispose();
  }
});

test('helm template, default values: valid manifests; DaemonSet with hostPID, /host mounts incl. /dev/kmsg, privileged, args, probes; Guaranteed and node-critical; snapshot API off', () => {
  const objs = render(CHART);
  validateAll(objs);
  assert.deepEqual(objs.map((o) => o.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'DaemonSet', 'Service', 'ServiceAccount']);
  checkNodeAccess(objs, 'privileged');
  const { spec, c } = daemonSet(objs);
  const args = c.args ?? [];
  assert.ok(!args.some((a) => a.startsWith('--web.enable-snapshot-api')), 'snapshot API off by default');
  assert.ok(!args.some((a) => a.startsWith('--web.config.file')));
  assert.ok(args.includes('--kubernetes.kubelet=https://$(NODE_IP):10250'));
  assert.ok(c.env?.some((e) => e.name === 'NODE_IP'), 'NODE_IP from the downward API for the kubelet URL');
  // The kubelet gives a Guaranteed pod oom_score_adj -997 (pkg/kubelet/qos/policy.go), as it does a node-critical one.
  assert.deepEqual(c.resources?.requests, c.resources?.limits, 'requests == limits: Guaranteed QoS');
  assert.ok(c.resources?.limits?.['memory'] !== undefined && c.resources.limits['cpu'] !== undefined);
  assert.equal(spec.priorityClassName, 'system-node-critical');
  assert.deepEqual(spec.tolerations, [{ operator: 'Exists' }], 'runs on every node, tainted ones too');
  const role = objs.find((o) => o.kind === 'ClusterRole') as unknown as { rules: { resources: string[]; verbs: string[] }[] };
  assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['nodes/proxy', 'nodes/pods'], verbs: ['get'] }]);
});

test('helm template, every toggle on: monitors, rule, dashboards, web config Secret, OTLP env, snapshot API; all valid', () => {
  const { dir, dispose } = chartWithFiles();
  try {
    const objs = render(dir, [`${FIX}/all-on.yaml`]);
    validateAll(objs);
    const kinds = objs.map((o) => o.kind);
    for (const k of ['DaemonSet', 'Service', 'ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'ConfigMap', 'Secret', 'ClusterRole']) assert.ok(kinds.includes(k), `renders a ${k}`);
    checkNodeAccess(objs, 'privileged');
    const { c } = daemonSet(objs);
    const args = c.args ?? [];
    assert.ok(args.includes('--web.enable-snapshot-api'));
    assert.ok(args.includes('--web.config.file=/etc/memlens/web/web-config.yml'));
    assert.ok(args.includes('--kubernetes.ca-file=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt'));
    assert.ok(args.includes('--kubernetes.insecure-skip-tls-verify=false'));
    assert.ok(args.includes('--process.top=20'));
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '(from)']));
    assert.equal(env['OTEL_EXPORTER_OTLP_ENDPOINT'], 'http://otel-collector.monitoring:4318');
    assert.equal(env['OTEL_EXPORTER_OTLP_PROTOCOL'], 'http/protobuf');
    assert.equal(env['OTEL_METRIC_EXPORT_INTERVAL'], '15000');
    assert.equal(env['OTEL_EXPORTER_OTLP_HEADERS'], '(from)', 'headers from a Secret, not in the manifest');
    assert.equal(env['OTEL_RESOURCE_ATTRIBUTES'], 'k8s.node.name=$(NODE_NAME),k8s.cluster.name=prod');
    assert.equal((c.livenessProbe?.httpGet as { scheme?: string } | undefined)?.scheme, 'HTTPS', 'probes follow the web config to TLS');
    const secret = objs.find((o) => o.kind === 'Secret') as unknown as { stringData: Record<string, string> };
    assert.match(secret.stringData['web-config.yml'] ?? '', /basic_auth_users:/);
    const sm = objs.find((o) => o.kind === 'ServiceMonitor') as unknown as { metadata: { labels: Record<string, string> }; spec: { endpoints: Record<string, unknown>[] } };
    assert.equal(sm.metadata.labels['release'], 'kube-prometheus-stack');
    assert.equal(sm.spec.endpoints[0]?.['honorLabels'], true, 'namespace/pod/container of the info metric are kept');
    assert.equal(sm.spec.endpoints[0]?.['scheme'], 'https');
    assert.ok(sm.spec.endpoints[0]?.['basicAuth'] !== undefined, 'endpointConfig merged in');
    const rule = objs.find((o) => o.kind === 'PrometheusRule') as unknown as { spec: { groups: { rules: { annotations?: Record<string, string> }[] }[] } };
    const chartRules = parseAllDocuments(readFileSync(`${dir}/files/alerts.yaml`, 'utf8'))[0]!.toJS() as { groups: unknown[] };
    assert.deepEqual(rule.spec.groups, chartRules.groups, 'the PrometheusRule is the chart\'s alerts.yaml, {{ $labels }} templates untouched');
    const dash = objs.filter((o) => o.kind === 'ConfigMap');
    assert.equal(dash.length, readdirSync(`${dir}/files/dashboards`).filter((f) => f.endsWith('.json')).length);
    for (const d of dash) {
      assert.equal(d.metadata.labels?.['grafana_dashboard'], '1', 'the Grafana sidecar label');
      assert.equal(d.metadata.namespace, 'grafana');
      for (const v of Object.values((d as unknown as { data: Record<string, string> }).data)) assert.doesNotThrow(() => JSON.parse(v));
    }
  } finally {
    dispose();
  }
});

test('helm template, restricted mode: not privileged, three capabilities, cgroup tree read-only; kubelet names off means no RBAC and no token', () => {
  const objs = render(CHART, [`${FIX}/restricted.yaml`]);
  validateAll(objs);
  checkNodeAccess(objs, 'restricted');
  assert.ok(!objs.some((o) => o.kind === 'ClusterRole'));
  const { spec, c } = daemonSet(objs);
  assert.equal((spec as unknown as { automountServiceAccountToken: boolean }).automountServiceAccountToken, false);
  assert.ok(!(c.args ?? []).some((a) => a.startsWith('--kubernetes.')));
  assert.ok((c.args ?? []).includes('--web.config.file=/etc/memlens/web/web-config.yml'));
  assert.equal(spec.volumes?.find((v) => v.name === 'web-config')?.secret?.secretName, 'memlens-web');
  assert.equal(c.securityContext?.['readOnlyRootFilesystem'], true);
});

test('the DaemonSet check catches a chart that forgets /dev/kmsg (or hostPID)', () => {
  const tmp = mkdtempSync(`${tmpdir()}/memlens-chart-broken-`);
  try {
    cpSync(CHART, `${tmp}/memlens`, { recursive: true });
    const file = `${tmp}/memlens/templates/daemonset.yaml`;
    const text = readFileSync(file, 'utf8');
    const noKmsg = text.replace(/\n {12}- name: kmsg\n {14}mountPath: \/host\/dev\/kmsg\n {14}readOnly: true/, '');
    assert.notEqual(noKmsg, text, 'the kmsg mount was found to remove');
    writeFileSync(file, noKmsg);
    assert.throws(() => checkNodeAccess(render(`${tmp}/memlens`), 'privileged'), /\/host\/dev\/kmsg/);
    writeFileSync(file, text.replace('hostPID: true', 'hostPID: false'));
    assert.throws(() => checkNodeAccess(render(`${tmp}/memlens`), 'privileged'), /hostPID/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('values.schema.json refuses bad values with the path', () => {
  for (const [set, want] of [['securityMode=root', /securityMode/], ['port=70000', /port/], ['otlp.protocol=udp', /protocol/], ['extraArgs[0]=rm -rf', /extraArgs/], ['typo=1', /typo/]] as const) {
    const r = helm(['template', 'mem', CHART, '--set', set]);
    assert.notEqual(r.status, 0, `--set ${set} is refused`);
    assert.match(r.stderr, want);
  }
  const r = helm(['template', 'mem', CHART, '--set', 'otlp.enabled=true']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /otlp\.endpoint is required/);
});
