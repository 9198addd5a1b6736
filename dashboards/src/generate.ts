// Writes the dashboards' JSON into dashboards/ (run from the repository root: `npm run dashboards`).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARDS, dashboardText } from './index.js';

for (const { file, build } of DASHBOARDS) {
  writeFileSync(join('dashboards', file), dashboardText(build()));
  console.log(`wrote dashboards/${file}`);
}
