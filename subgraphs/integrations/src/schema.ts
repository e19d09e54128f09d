import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { loaderFor, organisationOf, rowsById, scalarResolvers, type EventPublisher, type HubRuntime, type RequestContext, type Subgraph, type SystemDirectory } from '@hub/runtime';
import type { IntegrationRow, SyncLogRow, SyncRunRow } from './store.ts';
import { deleteSyncedRecordsBefore } from './store.ts';
import { createIntegrationsService, type CreateIntegrationInput, type IntegrationsService, type Schedule } from './service.ts';

export const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

function resolvers(service: IntegrationsService) {
  const integrationById = (ctx: RequestContext) =>
    loaderFor(ctx, 'integrations.byId', async (ids: readonly string[]) => rowsById(await service.byIds(organisationOf(ctx), ids), ids));
  return {
    ...scalarResolvers,
    // Every read and change is the caller's organisation's: another organisation's integration is not found.
    Query: {
      integrations: (_: unknown, a: { filter?: { externalSystemId?: string; status?: string } }, ctx: RequestContext) => service.list(organisationOf(ctx), a.filter ?? {}),
      integration: (_: unknown, a: { id: string }, ctx: RequestContext) => integrationById(ctx).load(a.id),
      syncRun: async (_: unknown, a: { id: string }, ctx: RequestContext) => (await service.run(organisationOf(ctx), a.id)) ?? null,
    },
    Mutation: {
      createIntegration: (_: unknown, a: { input: CreateIntegrationInput }, ctx: RequestContext) => service.create(organisationOf(ctx), a.input),
      syncData: (_: unknown, a: { integrationId: string; config?: { maxPages?: number } }, ctx: RequestContext) =>
        service.syncData(organisationOf(ctx), a.integrationId, a.config ?? {}),
      setSyncSchedule: (_: unknown, a: { integrationId: string; schedule?: Schedule | null }, ctx: RequestContext) =>
        service.setSchedule(organisationOf(ctx), a.integrationId, a.schedule ?? null),
    },
    Integration: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => integrationById(ctx).load(ref.id),
      externalSystem: (i: IntegrationRow) => ({ __typename: 'ExternalSystem', id: i.externalSystemId }),
      lastSync: (i: IntegrationRow) => i.lastSyncAt,
      syncSchedule: (i: IntegrationRow) => (i.syncSchedule ? { ...i.syncSchedule, nextRunAt: service.nextRunAt(i.syncSchedule) } : null),
      syncRuns: (i: IntegrationRow, a: { first: number }) => service.runs(i.organisationId, i.id, a.first),
      logs: (i: IntegrationRow, a: { first: number; runId?: string }) => service.logs(i.organisationId, i.id, a.first, a.runId),
      records: (i: IntegrationRow, a: { first: number; after?: string }) => service.records(i.organisationId, i.id, a.first, a.after),
    },
    SyncRun: {
      integration: (r: SyncRunRow, _: unknown, ctx: RequestContext) => integrationById(ctx).load(r.integrationId),
      logs: (r: SyncRunRow, a: { first: number }) => service.runLogs(r.organisationId, r.id, a.first),
    },
    SyncLog: {
      id: (l: SyncLogRow) => String(l.id),
    },
    ExternalSystem: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      integrations: (s: { id: string }, _: unknown, ctx: RequestContext) =>
        loaderFor(ctx, 'integrations.bySystem', async (ids: readonly string[]) => {
          const rows = await service.bySystems(organisationOf(ctx), ids);
          return ids.map((id) => rows.filter((r) => r.externalSystemId === id));
        }).load(s.id),
    },
  };
}

export function createIntegrationsSubgraph(rt: HubRuntime, directory: () => SystemDirectory, publisher: () => EventPublisher | undefined): Subgraph & { service: IntegrationsService } {
  const service = createIntegrationsService(rt, directory, publisher);
  return {
    name: 'integrations',
    retention: [{ kind: 'synced records', days: rt.config.retention.syncedRecordDays, apply: (before) => deleteSyncedRecordsBefore(rt.database.db, before) }],
    typeDefs,
    schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers(service) as never }]),
    service,
    provides: {
      // A rule syncs only its own organisation's integration: another organisation's id is not found.
      syncTrigger: async (organisationId, integrationId, causationId, idempotencyKey) => {
        await service.syncData(organisationId, integrationId, {}, 'EVENT', causationId, idempotencyKey);
      },
    },
    start: () => service.startWorkers(),
    stop: () => service.stop(),
  };
}
