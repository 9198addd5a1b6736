// The layers of src/ (README, "Code layout"): each layer imports only from the layers before it.
//   0 model, errors, log, config, version   1 host, kernel   2 procfs, cgroupfs, kmsg   3 oom, watch, kubernetes
//   4 forensics   5 collectors   6 sinks   7 http   8 main   9 cli, commands
// Within a layer, folders may import each other one way only (cgroupfs uses procfs's line parsers);
// no import cycle at all. npm test runs these rules (test/unit/layers.test.ts) and fails on a violation.
const LAYERS = [
  ['model', 'errors\\.ts', 'log\\.ts', 'config', 'version\\.ts'],
  ['host', 'kernel'],
  ['procfs', 'cgroupfs', 'kmsg'],
  ['oom', 'watch', 'kubernetes'],
  ['forensics'],
  ['collectors'],
  ['sinks'],
  ['http'],
  ['main\\.ts'],
  ['cli\\.ts', 'commands'],
];
const path = (names) => `^src/(${names.join('|')})`;

const forbidden = [
  {
    name: 'every-module-in-a-layer',
    severity: 'error',
    comment: 'A new folder under src/ goes into LAYERS above, so the rules see it.',
    from: { path: '^src/', pathNot: path(LAYERS.flat()) },
    to: {},
  },
  {
    name: 'no-cycles',
    severity: 'error',
    comment: 'Import cycles make the layers meaningless: break them with a type in a lower layer or an injected function.',
    from: { path: '^src/' },
    to: { circular: true },
  },
  {
    name: 'cgroupfs-not-procfs-back',
    severity: 'error',
    comment: 'Same layer, one way: cgroupfs uses procfs, never the reverse.',
    from: { path: '^src/procfs/' },
    to: { path: '^src/cgroupfs/' },
  },
  {
    name: 'oom-watch-apart',
    severity: 'error',
    comment: 'oom and watch are one layer and do not import each other (events go through the bus).',
    from: { path: '^src/(oom|watch)/' },
    to: { path: '^src/(oom|watch)/', pathNot: '^src/$1/' },
  },
];
LAYERS.forEach((layer, i) => {
  const above = LAYERS.slice(i + 1).flat();
  if (above.length === 0) return;
  for (const folder of layer) {
    const rule = {
      name: `layer-${i}-${folder.replace(/\\\.ts$/, '')}-imports-upward`,
      severity: 'error',
      comment: `${folder.replace(/\\/g, '')} (layer ${i}) may not import from a later layer (${above.join(', ').replace(/\\/g, '')}).`,
      from: { path: path([folder]) },
      to: { path: path(above) },
    };
    forbidden.push(rule);
  }
});

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(build|node_modules|test|bench)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
