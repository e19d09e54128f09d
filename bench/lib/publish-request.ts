import type { GraphQLBody } from './graphql.ts';

export const PUBLISH_ONE = 'mutation PublishOne($input: PublishEventInput!) { publishEvent(input: $input) { event { sequence } } }';
export const PUBLISH_MANY = 'mutation PublishMany($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { event { sequence } } }';

const REQUEST_TIMEOUT_MS = 10_000;

/** One publish over HTTP; resolves with the acknowledged sequences, throws on any error. */
export async function publishGraphQL(endpoint: string, query: string, variables: Record<string, unknown>, field: 'publishEvent' | 'publishEvents'): Promise<number[]> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  const body = JSON.parse(text) as GraphQLBody;
  if (body.errors?.length || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors).slice(0, 300)}`);
  const results = (field === 'publishEvent' ? [body.data.publishEvent] : body.data.publishEvents) as { event: { sequence: string } }[];
  return results.map((r) => Number(r.event.sequence));
}
