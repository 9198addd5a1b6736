// Panel helpers: time series, tables of instant queries merged into one row per series, stats.
import { ThresholdsConfigBuilder, ThresholdsMode, type Threshold } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { TableSortByFieldStateBuilder } from '@grafana/grafana-foundation-sdk/common';
import type { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { DS, tq } from './common.js';

export interface Size {
  w: number;
  h: number;
}

export function timeseries(title: string, description: string, unit: string, size: Size, targets: DataqueryBuilder[]): TimeseriesPanel {
  let p = new TimeseriesPanel().title(title).description(description).datasource(DS).unit(unit).span(size.w).height(size.h);
  for (const t of targets) p = p.withTarget(t);
  return p;
}

/** Warning at 90 %, critical at 95 % of a ratio (memlens's default watch thresholds). */
export function limitThresholds(): ThresholdsConfigBuilder {
  const steps: Threshold[] = [
    { value: null, color: 'green' },
    { value: 0.9, color: 'orange' },
    { value: 0.95, color: 'red' },
  ];
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

export interface Column {
  expr: string;
  /** Header of the value column. */
  name: string;
  unit: string;
}

/**
 * A table of instant queries, one column per query, joined on their labels (Grafana's merge
 * transformation), the Time column hidden.
 */
export function table(title: string, description: string, size: Size, columns: Column[]): TablePanel {
  let p = new TablePanel().title(title).description(description).datasource(DS).span(size.w).height(size.h);
  const renames: Record<string, string> = {};
  columns.forEach((c, i) => {
    const refId = String.fromCharCode(65 + i);
    p = p.withTarget(tq(c.expr, refId));
    renames[`Value #${refId}`] = c.name;
    // Overrides match the display name, which organize has renamed.
    p = p.overrideByName(c.name, [{ id: 'unit', value: c.unit }]);
  });
  return p
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true, job: true }, renameByName: renames } });
}

export function stat(title: string, description: string, unit: string, size: Size, target: DataqueryBuilder): StatPanel {
  return new StatPanel().title(title).description(description).datasource(DS).unit(unit).span(size.w).height(size.h).withTarget(target);
}

export function sortDesc(column: string): TableSortByFieldStateBuilder {
  return new TableSortByFieldStateBuilder().displayName(column).desc(true);
}
