export interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export interface GraphQLReply {
  status: number;
  /** The raw body, byte for byte what the load generator will be comparing against. */
  text: string;
  body: GraphQLBody;
}

/** The exact request every measured call sends, so the preflight and the load see the same thing. */
export function graphqlRequest(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) {
  return {
    method: 'POST' as const,
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(variables ? { query, variables } : { query }),
  };
}

export async function postGraphQL(endpoint: string, query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLReply> {
  const res = await fetch(endpoint, { ...graphqlRequest(query, variables, headers), signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: GraphQLBody;
  try {
    body = JSON.parse(text) as GraphQLBody;
  } catch {
    body = { errors: [{ message: `not JSON: ${text.slice(0, 200)}` }] };
  }
  return { status: res.status, text, body };
}

/** Posts and insists on HTTP 200 without GraphQL errors: the seed and the preflight must not silently half-work. */
export async function mustQuery<T = Record<string, unknown>>(endpoint: string, query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<T> {
  const reply = await postGraphQL(endpoint, query, variables, headers);
  if (reply.status !== 200 || reply.body.errors?.length || !reply.body.data) {
    throw new Error(`${endpoint} answered HTTP ${reply.status}: ${reply.text.slice(0, 500)}`);
  }
  return reply.body.data as T;
}
