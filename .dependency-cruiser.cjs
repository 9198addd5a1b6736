// The layers of src/ (README, "Code layout"): each layer imports only from the layers before it.
//   0 model, errors, log, config, version   1 host, kernel   2 procfs, cgroupfs, kmsg   3 oom, watch
//   4 forensics   5 collectors   6 sinks   7 http   8 main   9 cli, commands
// Within a layer, folders may import each other one way only (cgroupfs uses procfs's line parsers);
// no import cycle at all. npm test runs these rules (test/unit/layers.test.ts) and fails on a violation.
const LAYERS = [
  ['model', 'errors\\.ts', 'log\\.ts', 'config', 'version\\.ts'],
  ['host', 'kernel'],
  ['procfs', 'cgroupfs', 'kmsg'],
  ['oom', 'watch'],
  ['forensics'],
  ['collectors'],
  ['sinks'],
  ['http'],
  ['main\\.ts'],
  ['cli\\.ts', 'commands'],
];
const path = (names) => `^src/(${names.join('|')})`;

// Imports that the target layout forbids but the code still has until issue 14 moves the epoll loop
// (watch/eventLoop.ts, watch/sys.ts) down to src/kernel/: kmsg/ and oom/ use that loop. Exactly these
// edges are allowed; delete this list once src/kernel/ exists.
const KNOWN_UNTIL_KERNEL_MOVE = ['^src/watch/eventLoop\\.ts$', '^src/watch/sys\\.ts$'];

const forbidden = [
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
    to: { path: '^src/(oom|watch)/', pathNot: ['^src/$1/', ...KNOWN_UNTIL_KERNEL_MOVE] },
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
    if (folder === 'kmsg' || folder === 'oom') rule.to.pathNot = KNOWN_UNTIL_KERNEL_MOVE;
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
