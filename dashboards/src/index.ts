// The dashboards memlens ships, by the file they are committed as under dashboards/.
// `npm run dashboards` writes them; test/dashboards/dashboards.test.ts fails when they differ.
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { cgroupsDashboard } from './cgroups.js';
import { processesDashboard } from './processes.js';
import { oomDashboard } from './oom.js';

export const DASHBOARDS: readonly { file: string; build: () => Dashboard }[] = [
  { file: 'memlens-cgroups.json', build: cgroupsDashboard },
  { file: 'memlens-processes.json', build: processesDashboard },
  { file: 'memlens-oom.json', build: oomDashboard },
];

/** The committed text of a dashboard: 2-space JSON and a final newline. */
export function dashboardText(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
