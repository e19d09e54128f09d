import cluster from 'node:cluster';
import { createLogger, loadConfig, type HubConfig } from '@hub/runtime';
import { startHub } from './hub.ts';

/** `npm start`: one process with the roles ROLE names (all of them by default), or WORKERS of them on one port. */
let config: HubConfig;
try {
  config = loadConfig();
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const log = createLogger(config.logLevel);

if (config.workers > 1 && cluster.isPrimary) await supervise(config.workers);
else await serve();

async function serve() {
  const hub = await startHub(config, log).catch((err) => {
    log.fatal({ err }, 'hub failed to start');
    process.exit(1);
  });
  if (cluster.isPrimary) log.info(`GraphiQL: ${hub.url}/graphql`);
  // A worker whose supervisor is gone stops too, rather than serving on unsupervised.
  if (cluster.isWorker) process.on('disconnect', () => void hub.close().finally(() => process.exit(0)));
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1); // a second signal: stop now
      stopping = true;
      log.info({ signal }, 'shutting down');
      hub.close().then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

/**
 * Several hub processes on one port: the kernel spreads connections over them, and each uses its own core.
 * The first worker migrates the database before the others start, so they never race on it.
 */
async function supervise(workers: number) {
  let stopping = false;
  const fork = () =>
    new Promise<void>((resolve, reject) => {
      const w = cluster.fork();
      w.once('listening', () => resolve());
      w.once('exit', (code) => reject(new Error(`worker exited with ${code} before listening`)));
    });
  if (!config.redisUrl) {
    // Correct without Redis (each worker's subscribers read the shared log), but live events from another worker
    // then wait for EVENTS_LOG_POLL_MS instead of arriving at once.
    log.warn('WORKERS > 1 without REDIS_URL: live event delivery across workers falls back to polling the log');
  }
  await fork();
  for (let i = 1; i < workers; i++) await fork();
  log.info({ workers, url: `http://${config.host}:${config.port}/graphql` }, 'hub workers listening');
  cluster.on('exit', (w, code) => {
    if (stopping) return;
    log.error({ pid: w.process.pid, code }, 'worker died; starting another');
    fork().catch((err) => log.error({ err }, 'replacement worker failed'));
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      const left = () => Object.keys(cluster.workers ?? {}).length;
      const timer = setInterval(() => left() === 0 && process.exit(0), 100);
      setTimeout(() => process.exit(1), config.shutdownGraceMs + 5_000).unref();
      void timer;
    });
  }
}
