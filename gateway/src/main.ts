import { createLogger, loadConfig } from '@hub/runtime';
import { startHub } from './hub.ts';

/** `npm start`: one process with the roles ROLE names (all of them by default). */
let config;
try {
  config = loadConfig();
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const log = createLogger(config.logLevel);
const hub = await startHub(config, log).catch((err) => {
  log.fatal({ err }, 'hub failed to start');
  process.exit(1);
});
log.info(`GraphiQL: ${hub.url}/graphql`);

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
