// Pieces shared by the three dashboards: the variables (datasource, instance, cgroup, pod), the
// Prometheus data source reference, query builders and the OOM-kill annotation.
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

export const DS: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** Selectors of the variables, to put inside `{...}`. */
export const INSTANCE = 'instance=~"$instance"';
export const CGROUP = `${INSTANCE}, cgroup=~"$cgroup"`;
/** pod_uid=~".*" (All) also matches series without the label: cgroups outside Kubernetes. */
export const CGROUP_POD = `${CGROUP}, pod_uid=~"$pod"`;

/** A range query drawn as time series. */
export function q(expr: string, legend: string): DataqueryBuilder {
  return new DataqueryBuilder().datasource(DS).expr(expr).legendFormat(legend).range();
}

/** An instant query returned as a table (for table panels: one column per query, merged). */
export function tq(expr: string, refId: string): DataqueryBuilder {
  return new DataqueryBuilder().datasource(DS).expr(expr).instant().format(PromQueryFormat.Table).refId(refId);
}

function queryVar(name: string, label: string, query: string, all: boolean): QueryVariableBuilder {
  let v = new QueryVariableBuilder(name)
    .label(label)
    .datasource(DS)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true);
  if (all) v = v.includeAll(true).allValue('.*');
  return v;
}

export interface Vars {
  cgroup?: boolean;
  pod?: boolean;
}

/** A dashboard with memlens's common settings and variables. */
export function dashboard(uid: string, title: string, description: string, vars: Vars): DashboardBuilder {
  let d = new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['memlens', 'memory'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: 'now-6h', to: 'now' })
    .refresh('30s')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(queryVar('instance', 'Instance', 'label_values(memlens_build_info, instance)', true));
  if (vars.cgroup === true) {
    d = d.withVariable(queryVar('cgroup', 'cgroup', `label_values(memlens_cgroup_memory_usage_bytes{${INSTANCE}}, cgroup)`, true));
  }
  if (vars.pod === true) {
    // Only Kubernetes cgroup paths carry pod_uid; elsewhere the list is empty and All matches everything.
    d = d.withVariable(queryVar('pod', 'Pod UID', `label_values(memlens_cgroup_memory_usage_bytes{${INSTANCE}}, pod_uid)`, true));
  }
  return d.annotation(oomAnnotation());
}

/**
 * OOM kills as annotations at the kill's own time: memlens_oom_last_kill_timestamp_seconds holds
 * the time of each cgroup's last kill (from the kernel's report), used as the event time.
 */
export function oomAnnotation(): AnnotationQueryBuilder {
  return new AnnotationQueryBuilder()
    .name('OOM kills')
    .datasource(DS)
    .enable(true)
    .iconColor('red')
    .expr(`memlens_oom_last_kill_timestamp_seconds{${INSTANCE}} * 1000`)
    .useValueForTime(true)
    .titleFormat('OOM kill')
    .textFormat('cgroup {{cgroup}} on {{instance}}')
    .tagKeys('cgroup');
}
