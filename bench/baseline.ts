/**
 * The baseline the hub is compared with: the stock Apollo stack and nothing else. A plain @apollo/server
 * (startStandaloneServer) runs an @apollo/gateway that composes the supergraph by introspecting the subgraph
 * processes (IntrospectAndCompose) and reaches them over HTTP. Started by bench/gateway.ts as its own child process:
 *
 *   PORT=4100 HOST=127.0.0.1 SUBGRAPH_SYSTEMS_URL=http://127.0.0.1:4001/graphql ... node --import tsx bench/baseline.ts
 */
import { ApolloGateway, IntrospectAndCompose } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

const NAMES = ['systems', 'integrations', 'mappings', 'metrics', 'events'];

function subgraphsFromEnv(): { name: string; url: string }[] {
  return NAMES.map((name) => {
    const url = process.env[`SUBGRAPH_${name.toUpperCase()}_URL`];
    if (!url) throw new Error(`baseline: SUBGRAPH_${name.toUpperCase()}_URL is required`);
    return { name, url };
  });
}

async function main() {
  const port = Number(process.env.PORT ?? 4100);
  const host = process.env.HOST ?? '127.0.0.1';
  // No polling: the subgraphs do not change during a bench, and a poll would add work to the measured process.
  const gateway = new ApolloGateway({ supergraphSdl: new IntrospectAndCompose({ subgraphs: subgraphsFromEnv() }) });
  const server = new ApolloServer({ gateway });
  // startStandaloneServer only listens once the gateway has loaded, so a 200 on `{ __typename }` means ready.
  const { url } = await startStandaloneServer(server, { listen: { port, host } });
  if (process.env.LOG_LEVEL !== 'warn' && process.env.LOG_LEVEL !== 'error') console.log(`baseline listening at ${url}`);

  // ApolloServer stops itself on SIGTERM/SIGINT (stopOnTerminationSignals defaults to on outside tests).
}

main().catch((err) => {
  console.error('baseline failed to start:', err);
  process.exit(1);
});
