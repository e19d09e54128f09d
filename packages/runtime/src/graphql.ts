import DataLoader from 'dataloader';
import type { DocumentNode, GraphQLSchema } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { CareDirectory, ResidentEraser, SystemDirectory } from './ports.ts';
import type { EventPublisher } from './outbox.ts';
import type { Principal } from './tenancy.ts';
import type { RetentionPolicy } from './retention.ts';

/** The scalars every subgraph declares; one definition so they serialise alike across the graph. */
export const scalarResolvers = { DateTime: DateTimeResolver, JSON: JSONResolver };

/** What each subgraph's resolvers receive: per-request loaders, and who is asking. */
export interface RequestContext {
  requestId?: string;
  /** Who is asking, by name (the client app): logs and per-client limits. */
  actor?: string;
  /** Who is asking, in full: organisation, homes, scopes. Every owned record is read and written through it. */
  principal?: Principal;
  loaders?: Map<string, DataLoader<unknown, unknown>>;
  /**
   * What resolvers add to the response's `extensions` (e.g. that a record came from a stale cache). The gateway
   * merges every subgraph's into the one response.
   */
  extensions?: Record<string, unknown[]>;
  /** Aborted when the request's time budget (REQUEST_TIMEOUT_MS) is spent or its caller went away: stop working. */
  signal?: AbortSignal;
}

/** Appends an entry under a key of the response's extensions. */
export function addExtension(ctx: RequestContext, key: string, entry: unknown): void {
  ctx.extensions ??= {};
  (ctx.extensions[key] ??= []).push(entry);
}

/** A per-request DataLoader under a name, so N entity references cost one query. */
export function loaderFor<K, V>(ctx: RequestContext, name: string, batch: (keys: readonly K[]) => Promise<Array<V | null>>): DataLoader<K, V | null> {
  ctx.loaders ??= new Map();
  let l = ctx.loaders.get(name) as DataLoader<K, V | null> | undefined;
  if (!l) {
    l = new DataLoader<K, V | null>(batch);
    ctx.loaders.set(name, l as DataLoader<unknown, unknown>);
  }
  return l;
}

export function rowsById<T extends { id: string }>(rows: T[], ids: readonly string[]): Array<T | null> {
  const m = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => m.get(id) ?? null);
}

/** Ports a subgraph offers to the others in the same deployment. */
export interface SubgraphPorts {
  systemDirectory?: SystemDirectory;
  /** Which residents are in the care of the caller's homes: the nhs subgraph asks before any NHS call. */
  careDirectory?: CareDirectory;
  eventPublisher?: EventPublisher;
  /**
   * Queues a sync of an integration (event rules use it); `causationId` is the event that asked. The same
   * `idempotencyKey` twice queues one sync.
   */
  syncTrigger?: (organisationId: string, integrationId: string, causationId: string, idempotencyKey: string) => Promise<void>;
  /** Erases one resident's personal data from this subgraph's records (the care subgraph's eraseResident asks). */
  residentEraser?: ResidentEraser;
}

/** One federated subgraph of the hub: its SDL, its executable schema and what it runs in the background. */
export interface Subgraph {
  name: string;
  typeDefs: DocumentNode;
  schema: GraphQLSchema;
  provides?: SubgraphPorts;
  /** Its `ID` arguments and input fields that are not UUIDs, by schema coordinate (see input-guard.ts). */
  textIds?: string[];
  /** How long each kind of personal record it keeps is kept; the hub enforces them daily (retention.ts). */
  retention?: RetentionPolicy[];
  /** Starts queue workers and schedules; called once the whole process is wired. */
  start?(): Promise<void>;
  /** Stops background work (relays, workers) before the pools close. */
  stop?(): Promise<void>;
}
