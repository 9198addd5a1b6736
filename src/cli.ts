// The command line: `memlens [serve]` (default). Exit codes: 0 ok, 1 runtime failure (port in
// use), 2 bad flags or config (one line naming what is wrong, before anything starts).
import { ConfigError, MemlensError, describe } from './errors.js';
import { helpText, loadConfig } from './config/load.js';
import { createLogger } from './log.js';
import { startExporter } from './main.js';
import { VERSION } from './version.js';
import { collectorsHelp, enabledCollectors } from './collectors/registry.js';
import { watchCommand } from './commands/watch.js';
import { snapshotCommand } from './commands/snapshot.js';
import { explainCommand } from './commands/explain.js';

export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = loadConfig(argv, process.env);
    if (parsed.kind === 'run') enabledCollectors(parsed.config); // unknown collector names: exit 2 here
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`memlens: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(`${helpText(['', 'Collectors (--collectors.disabled / --collectors.enabled):', ...collectorsHelp()])}\n`);
    return 0;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`memlens ${VERSION}\n`);
    return 0;
  }
  const { command, config } = parsed;
  if (command === 'watch') return watchCommand(config, createLogger(config.logLevel));
  if (command === 'snapshot') return snapshotCommand(config, config.snapshotCgroup ?? parsed.positionals[0], createLogger(config.logLevel));
  if (command === 'explain') return explainCommand(config, parsed.positionals[0]);
  if (command !== 'serve') {
    process.stderr.write(`memlens: unknown command ${JSON.stringify(command)} (try --help)\n`);
    return 2;
  }
  const log = createLogger(config.logLevel);
  let running;
  try {
    running = await startExporter(config, log);
  } catch (err) {
    const code = err instanceof MemlensError && err.code === 'MEMLENS_ERR_CONFIG' ? 2 : 1;
    process.stderr.write(`memlens: ${describe(err)}\n`);
    return code;
  }
  // Node as PID 1 in a container gets no default SIGTERM handling: stop cleanly ourselves.
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      resolve();
    };
    // SIGHUP too: its default action would end the process without the cleanup below (a
    // snapshot hold must be restored, watches closed).
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => stop(sig));
  });
  await running.close();
  return 0;
}
