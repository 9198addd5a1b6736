// dashboards/alerts.yaml as data, for the tests.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export const RULES = 'dashboards/alerts.yaml';

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleFile { groups: { name: string; rules: Rule[] }[] }

export function loadRules(path = RULES): Rule[] {
  const doc = parse(readFileSync(path, 'utf8')) as RuleFile;
  return doc.groups.flatMap((g) => g.rules);
}
