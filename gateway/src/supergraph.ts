import { composeServices } from '@apollo/composition';
import { parse, type DocumentNode } from 'graphql';
import { internalFetch, servicePrincipal, type InternalKeys } from '@hub/runtime';

export interface SubgraphSource {
  name: string;
  url: string;
  typeDefs: DocumentNode;
}

/** Composes subgraph SDLs into a supergraph, failing with every composition error listed. */
export function composeSupergraph(subgraphs: SubgraphSource[]): string {
  const result = composeServices(subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: s.typeDefs })));
  if (result.errors?.length) {
    throw new Error(`supergraph does not compose:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
  return result.supergraphSdl!;
}

/** Reads a remote subgraph's SDL through the federation `_service` field. */
export async function fetchSubgraphSdl(name: string, url: string, keys: InternalKeys | undefined, timeoutMs = 5_000): Promise<SubgraphSource> {
  // Signed: a subgraph process answers nobody else, its SDL included.
  const res = await internalFetch(keys, servicePrincipal('', 'gateway'), name, url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`subgraph ${name} at ${url} answered HTTP ${res.status}`);
  const body = (await res.json()) as { data?: { _service?: { sdl?: string } } };
  const sdl = body.data?._service?.sdl;
  if (!sdl) throw new Error(`subgraph ${name} at ${url} did not return its SDL`);
  return { name, url, typeDefs: parse(sdl) };
}
