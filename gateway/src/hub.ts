import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ApolloGateway, type SupergraphSdlHook } from '@apollo/gateway';
import { useApolloFederation } from '@envelop/apollo-federation';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { migrationsFolder, schema as dbSchema } from '@hub/db';
import {
  applyRateLimits,
  applyAudit,
  applyInputGuard,
  PSEUDONYM_IDS,
  createRetention,
  createLogger,
  createRuntime,
  remotePublisher,
  redisBus,
  memoryBus,
  type EventBus,
  openKeyValue,
  runsRole,
  SUBGRAPH_NAMES,
  type HubConfig,
  type HubRuntime,
  type KeyValue,
  type RequestContext,
  type Logger,
  type Subgraph,
  type SubgraphName,
  type Scope,
  decodePrincipal,
  internalFetch,
  servicePrincipal,
  upstreamUnavailable,
  type ResidentEraser,
} from '@hub/runtime';
import { createSystemsSubgraph } from '@hub/subgraph-systems';
import { createIntegrationsSubgraph } from '@hub/subgraph-integrations';
import { createMappingsSubgraph } from '@hub/subgraph-mappings';
import { createMetricsSubgraph } from '@hub/subgraph-metrics';
import { createEventsSubgraph } from '@hub/subgraph-events';
import { createCareSubgraph, remoteCareDirectory, remoteResidentEraser } from '@hub/subgraph-care';
import { CLIENT_HEADER, createAuthenticator, PRINCIPAL_HEADER, principalFor, SCOPES_HEADER, scopesOf, takeFieldScopes, useScopes, type FieldScopes, type Identity } from './auth.ts';
import { InProcessDataSource, RemoteSubgraphDataSource } from './datasource.ts';
import { deadline, useTimeBudget } from './deadline.ts';
import { gatewayGuards, upstreamFields } from './guards.ts';
// Types only: the simulators (and their fixture keys) are imported when, and only when, a connector is simulated.
import type { HmrcSimulator, NhsSimulator, OpenBankingSimulator, CqcSimulator, DbsSimulator } from '@hub/simulators';
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { createNhsSubgraph } from '@hub/subgraph-nhs';
import { createHmrcSubgraph, HMRC_ENVIRONMENTS } from '@hub/subgraph-hmrc';
import { createBankingSubgraph } from '@hub/subgraph-banking';
import { createAuditSubgraph } from '@hub/subgraph-audit';
import { createRegulatorySubgraph } from '@hub/subgraph-regulatory';
import { createPayrollSubgraph } from '@hub/subgraph-payroll';
import { errorMasker, useErrorCodes } from './errors.ts';
import { renderGraphiQL } from './graphiql.ts';
import { createHttpServer, type ReadinessCheck } from './server.ts';
import { attachSubscriptions } from './subscriptions.ts';
import { createLiveStream, remoteEventLog, type EventsService, type EventStreamSource } from '@hub/subgraph-events';
import { composeSupergraph, fetchSubgraphSdl, type SubgraphSource } from './supergraph.ts';

export interface Hub {
  url: string;
  port: number;
  runtime?: HubRuntime;
  subgraphs: Subgraph[];
  /** Applies every retention policy of this process's subgraphs now (the daily job does the same), as of `now`. */
  runRetention(now?: Date): Promise<Record<string, number>>;
  close(): Promise<void>;
}

const IN_PROCESS = 'inproc://';

/**
 * Builds the subgraphs this process serves. Integrations reach systems through its directory port; systems and
 * integrations announce their changes through the events subgraph's publisher (in process, or over HTTP).
 */
export function buildSubgraphs(rt: HubRuntime, names: SubgraphName[]): Subgraph[] {
  let systems: ReturnType<typeof createSystemsSubgraph> | undefined;
  let events: ReturnType<typeof createEventsSubgraph> | undefined;
  let integrations: Subgraph | undefined;
  let care: ReturnType<typeof createCareSubgraph> | undefined;
  // The nhs subgraph asks the care subgraph who is in whose care: in process, or over signed HTTP.
  const remoteCare = rt.config.subgraphUrls.care ? remoteCareDirectory(rt.config.subgraphUrls.care, rt.config.internalKeys) : undefined;
  const careDirectory = () => care?.provides?.careDirectory ?? remoteCare;
  const remoteEvents = rt.config.subgraphUrls.events ? remotePublisher(rt.config.subgraphUrls.events, rt.config.internalKeys) : undefined;
  const publisher = () => events?.provides?.eventPublisher ?? remoteEvents;
  const systemsSubgraph = () => (systems ??= createSystemsSubgraph(rt, publisher));
  // Erasure reaches every subgraph that holds personal data about residents: in process, or over signed HTTP.
  let nhs: Subgraph | undefined;
  const urls = rt.config.subgraphUrls;
  // One that is neither refuses, so an erasure is never reported done with a part left out.
  const unreachable = (name: string): ResidentEraser => ({
    name,
    erase: async () => {
      throw upstreamUnavailable(`hub.${name}`, `SUBGRAPH_${name.toUpperCase()}_URL is not set: the ${name} subgraph's records cannot be erased from this process`);
    },
  });
  const erasers = (): ResidentEraser[] => [
    events?.provides?.residentEraser ?? (urls.events ? remoteResidentEraser('events', urls.events, rt.config.internalKeys, 'eraseResidentEvents') : unreachable('events')),
    nhs?.provides?.residentEraser ?? (urls.nhs ? remoteResidentEraser('nhs', urls.nhs, rt.config.internalKeys, 'eraseResidentNhsRecords', 'dischargeSummaries nhsCalls') : unreachable('nhs')),
  ];
  const factories: Record<SubgraphName, () => Subgraph> = {
    systems: systemsSubgraph,
    integrations: () => (integrations = createIntegrationsSubgraph(rt, () => systemsSubgraph().provides!.systemDirectory!, publisher)),
    mappings: () => createMappingsSubgraph(rt, publisher),
    metrics: () => createMetricsSubgraph(rt, publisher),
    events: () => (events ??= createEventsSubgraph(rt, () => integrations?.provides?.syncTrigger)),
    nhs: () => (nhs ??= createNhsSubgraph(rt, publisher, careDirectory)),
    banking: () => createBankingSubgraph(rt, publisher),
    care: () => (care ??= createCareSubgraph(rt, publisher, erasers)),
    audit: () => createAuditSubgraph(rt.audit, rt.config.retention.auditDays),
    regulatory: () => createRegulatorySubgraph(rt, publisher),
    payroll: () => createPayrollSubgraph(rt, publisher),
    hmrc: () => {
      const h = rt.config.hmrc;
      // Disabled: no base URL, and every HMRC call answers that HMRC is not configured.
      const url = h.disabled ? '' : (h.baseUrl ?? (h.environment === 'simulated' ? '' : HMRC_ENVIRONMENTS[h.environment]));
      return createHmrcSubgraph(rt, publisher, { url, simulated: !h.disabled && h.environment === 'simulated' });
    },
  };
  if (names.includes('nhs') && !names.includes('care') && !remoteCare) {
    rt.log.warn('SUBGRAPH_CARE_URL is not set: the nhs subgraph cannot tell who is in care and refuses every NHS record');
  }
  if (!names.includes('events') && !remoteEvents && (names.includes('systems') || names.includes('integrations') || names.includes('nhs') || names.includes('hmrc') || names.includes('banking') || names.includes('care'))) {
    rt.log.warn('SUBGRAPH_EVENTS_URL is not set: state-change events wait in the outboxes until an events subgraph is reachable');
  }
  return names.map((n) => {
    const subgraph = factories[n]();
    // Fields marked @rateLimit in the subgraph's SDL are limited per caller, in Redis when it is there.
    applyRateLimits(subgraph.schema, rt.kv);
    // Every mutation and every read of a @requiresScopes field is audited (outermost: refusals are recorded too).
    applyAudit(subgraph.schema, rt.audit, { subgraph: n, residentOf: async (org, nhsNumber) => (await careDirectory()?.residentId(org, nhsNumber)) ?? null });
    // Bad input (non-UUID ids, NUL characters, oversized lists) is refused before anything else sees it (input-guard.ts).
    applyInputGuard(subgraph.schema, { textIds: [...PSEUDONYM_IDS, ...(subgraph.textIds ?? [])] });
    return subgraph;
  });
}

/** The gateway: local subgraphs run in process; the others are reached over HTTP and recomposed when they change. */
async function createGateway(
  config: HubConfig,
  local: Subgraph[],
  log: Logger,
  fieldScopes: FieldScopes,
  onSupergraph: (supergraphSdl: string) => void = () => {},
): Promise<{ gateway: ApolloGateway; subgraphUrls: () => Record<string, string> }> {
  // Every supergraph the gateway loads passes here: the hub takes the @requiresScopes it enforces (see auth.ts), and
  // never fewer than the reviewed supergraph checked in under schema/ demands: a subgraph process (or whatever answers
  // at its address) cannot drop a field's scopes by serving other SDL.
  const reviewed = reviewedFieldScopes(log);
  const prepare = (sdl: string) => {
    const prepared = takeFieldScopes(sdl, fieldScopes);
    for (const [field, need] of reviewed) if (!fieldScopes.has(field)) fieldScopes.set(field, need);
    return prepared;
  };
  const localByName = new Map(local.map((s) => [s.name, s]));
  let urls: Record<string, string> = {};
  let supergraphSdl: SupergraphSdlHook;
  if (config.supergraphFile) {
    const file = config.supergraphFile;
    supergraphSdl = async ({ update }) => {
      const read = () => prepare(readFileSync(file, 'utf8'));
      watchFile(file, { interval: 1000 }, () => {
        try {
          update(read());
          log.info({ file }, 'supergraph reloaded');
        } catch (err) {
          log.error({ err, file }, 'supergraph reload failed; keeping the previous one');
        }
      });
      return { supergraphSdl: read(), cleanup: async () => unwatchFile(file) };
    };
  } else {
    const remote = SUBGRAPH_NAMES.filter((n) => !localByName.has(n)).map((n) => {
      const url = config.subgraphUrls[n];
      if (!url) throw new Error(`invalid configuration:\n  SUBGRAPH_${n.toUpperCase()}_URL: required when this process does not run the ${n} subgraph`);
      return { name: n, url };
    });
    const sources = async (): Promise<SubgraphSource[]> => [
      ...local.map((s) => ({ name: s.name, url: IN_PROCESS + s.name, typeDefs: s.typeDefs })),
      ...(await Promise.all(remote.map((r) => fetchSubgraphSdl(r.name, r.url, config.internalKeys)))),
    ];
    supergraphSdl = async ({ update }) => {
      const first = prepare(composeSupergraph(await sources()));
      let last = first;
      // Remote subgraphs may be redeployed with a new schema: recompose without a restart.
      const timer = remote.length
        ? setInterval(async () => {
            try {
              const next = prepare(composeSupergraph(await sources()));
              if (next !== last) {
                last = next;
                update(next);
                log.info('supergraph recomposed');
              }
            } catch (err) {
              log.warn({ err }, 'recomposition failed; keeping the current supergraph');
            }
          }, 10_000).unref()
        : undefined;
      return { supergraphSdl: first, cleanup: async () => clearInterval(timer) };
    };
  }
  const gateway = new ApolloGateway({
    supergraphSdl,
    logger: { debug: () => {}, info: () => {}, warn: (m) => log.warn(String(m)), error: (m) => log.error(String(m)) },
    buildService: ({ name, url }) => {
      urls[name] = url ?? '';
      const localSubgraph = url?.startsWith(IN_PROCESS) ? localByName.get(url.slice(IN_PROCESS.length)) : undefined;
      if (localSubgraph) return new InProcessDataSource(localSubgraph.schema, log);
      return new RemoteSubgraphDataSource({ url }, config.internalKeys!, name);
    },
  });
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => onSupergraph(coreSupergraphSdl));
  await gateway.load();
  return { gateway, subgraphUrls: () => urls };
}

const REVIEWED_SUPERGRAPH = new URL('../../schema/supergraph.graphql', import.meta.url);

/** The field scopes of the checked-in supergraph (npm run schema:check keeps it current), when it is deployed. */
function reviewedFieldScopes(log: Logger): FieldScopes {
  const scopes: FieldScopes = new Map();
  try {
    takeFieldScopes(readFileSync(REVIEWED_SUPERGRAPH, 'utf8'), scopes);
  } catch (err) {
    log.warn({ err }, 'schema/supergraph.graphql could not be read: field scopes come from the composed supergraph alone');
  }
  return scopes;
}

/** Starts one hub process with the roles its configuration names. */
export async function startHub(config: HubConfig, log: Logger = createLogger(config.logLevel)): Promise<Hub> {
  const gatewayRole = runsRole(config, 'gateway');
  const localNames = config.supergraphFile ? [] : SUBGRAPH_NAMES.filter((n) => runsRole(config, n));
  // With no NHS configuration a newcomer still sees residents: the NHS simulator runs in this process.
  let nhsSimulator: NhsSimulator | undefined;
  if (localNames.includes('nhs') && !config.nhs.disabled && config.nhs.environment === 'simulated' && !config.nhs.baseUrl) {
    ({ config, simulator: nhsSimulator } = await withInProcessNhsSimulator(config));
    log.warn({ nhs: nhsSimulator.url }, 'NHS is SIMULATED: no NHS_ENVIRONMENT configured, residents come from the local NHS simulator');
  }
  // Likewise HMRC: with no HMRC configuration, VAT obligations and returns come from the HMRC simulator.
  let hmrcSimulator: HmrcSimulator | undefined;
  if (localNames.includes('hmrc') && !config.hmrc.disabled && config.hmrc.environment === 'simulated' && !config.hmrc.baseUrl) {
    ({ config, simulator: hmrcSimulator } = await withInProcessHmrcSimulator(config));
    log.warn({ hmrc: hmrcSimulator.url }, 'HMRC is SIMULATED: no HMRC_ENVIRONMENT configured, VAT returns go to the local HMRC simulator');
  }
  // And the bank: with no OPEN_BANKING_BASE_URL, payments go to the bank simulator, signed with a key made now.
  let bankSimulator: OpenBankingSimulator | undefined;
  // (In production loadConfig has already refused a connector that is neither configured nor disabled.)
  if (localNames.includes('banking') && !config.openBanking.disabled && !config.openBanking.baseUrl) {
    ({ config, simulator: bankSimulator } = await withInProcessBankSimulator(config));
    log.warn({ bank: bankSimulator.url }, 'the bank is SIMULATED: no OPEN_BANKING_BASE_URL configured, payments go to the local Open Banking simulator');
  }
  // The regulators likewise (in development; production never simulates one it was not told to): CQC and the DBS.
  let regulatorSimulators: { cqc?: CqcSimulator; dbs?: DbsSimulator } = {};
  if (localNames.includes('regulatory')) ({ config, simulators: regulatorSimulators } = await withInProcessRegulatorSimulators(config, log));
  const runtime = localNames.length ? await createRuntime(config, { schema: dbSchema, migrationsFolder }, log) : undefined;
  let kv: KeyValue | undefined = runtime?.kv;
  const ownKv = !kv && gatewayRole;
  if (ownKv) kv = await openKeyValue({ url: config.redisUrl, prefix: config.redisPrefix });
  const metrics = runtime?.metrics ?? new Registry();
  if (!runtime) collectDefaultMetrics({ register: metrics });

  const subgraphs = runtime ? buildSubgraphs(runtime, localNames) : [];
  for (const s of subgraphs) await s.start?.();
  // Personal data is kept no longer than its policy says: each subgraph names its kinds, one daily job enforces them.
  const retention = runtime ? createRetention(runtime.jobs, subgraphs.flatMap((s) => s.retention ?? []), log) : undefined;
  await retention?.start();

  const readiness: ReadinessCheck[] = [];
  if (runtime) readiness.push({ name: `database (${runtime.database.kind})`, check: () => runtime.database.ping() });
  if (kv) readiness.push({ name: `redis (${kv.kind})`, check: () => kv!.ping() });

  let yoga: YogaServerInstance<any, any>;
  // Fields that make their own upstream call weigh more in an operation's cost (limits.ts), per supergraph.
  let upstream: ReadonlySet<string> = new Set();
  let gateway: ApolloGateway | undefined;
  if (gatewayRole) {
    const fieldScopes: FieldScopes = new Map();
    const g = await createGateway(config, subgraphs, log, fieldScopes, (sdl) => (upstream = upstreamFields(sdl)));
    gateway = g.gateway;
    readiness.push({
      name: 'subgraphs',
      async check() {
        const remote = Object.entries(g.subgraphUrls()).filter(([, url]) => !url.startsWith(IN_PROCESS));
        await Promise.all(
          remote.map(async ([name, url]) => {
            // Signed like every call to a subgraph: a gateway with the wrong key is not ready.
            const res = await internalFetch(config.internalKeys, servicePrincipal('', 'gateway'), name, url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{"query":"{ __typename }"}',
              signal: AbortSignal.timeout(2_000),
            }).catch((err: Error) => {
              throw new Error(`${name}: ${err.message}`);
            });
            if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
          }),
        );
      },
    });
    yoga = createYoga({
      // Limits, trusted documents, CSRF and introspection first (guards.ts); the time budget wraps the gateway's execute.
      plugins: [...gatewayGuards(config, log, () => upstream), useApolloFederation({ gateway, logger: log as never }), useTimeBudget(), useErrorCodes(), useScopes(fieldScopes), useResponseExtensions()],
      batching: config.graphql.batchLimit > 0 ? { limit: config.graphql.batchLimit } : false,
      cors: false, // the HTTP server answers CORS from its allow-list (doors.ts); yoga's default reflects any origin
      graphqlEndpoint: '/graphql',
      graphiql: { title: 'Care-home integration hub' },
      renderGraphiQL, // from the hub's own copy of GraphiQL, no CDN (graphiql.ts)
      landingPage: false,
      maxRequestBodySize: false, // see BODY_LIMIT_IN_SERVER
      maskedErrors: { maskError: errorMasker(log) },
      logging: false,
      // Over graphql-ws there is no fetch Request, only the upgrade request, and the identity its connection proved.
      // Over HTTP the server has put the authenticated client and its scopes in the headers (auth.ts).
      context: ({ request, req, identity }: { request?: Request; req?: { headers: Record<string, unknown> }; identity?: Identity }): RequestContext & { scopes: ReadonlySet<Scope> } => ({
        requestId: request?.headers.get('x-request-id') ?? (req?.headers['x-request-id'] as string | undefined),
        actor: identity?.client ?? request?.headers.get(CLIENT_HEADER) ?? (req?.headers[CLIENT_HEADER] as string | undefined),
        scopes: identity?.scopes ?? scopesOf(request?.headers.get(SCOPES_HEADER)),
        principal: identity ? principalFor(identity) : decodePrincipal(request?.headers.get(PRINCIPAL_HEADER)),
        // Over HTTP the time budget starts here; over graphql-ws each query or mutation gets its own (subscriptions.ts).
        ...(request ? { signal: deadline(config.requestTimeoutMs, request.signal) } : {}),
      }),
    });
  } else {
    // A subgraph-only process serves its subgraph's schema for a gateway elsewhere.
    const only = subgraphs[0]!;
    yoga = createYoga({
      schema: only.schema,
      graphqlEndpoint: '/graphql',
      graphiql: false,
      landingPage: false,
      maxRequestBodySize: false, // see BODY_LIMIT_IN_SERVER
      maskedErrors: { maskError: errorMasker(log) },
      logging: false,
      plugins: [useTimeBudget(), useResponseExtensions('hub')],
      // The HTTP server has checked the gateway's signature and put the principal it carries in the headers.
      context: ({ request }: { request: Request }): RequestContext => ({
        signal: deadline(config.requestTimeoutMs, request.signal),
        loaders: new Map(),
        requestId: request.headers.get('x-request-id') ?? undefined,
        actor: request.headers.get(CLIENT_HEADER) ?? undefined,
        principal: decodePrincipal(request.headers.get(PRINCIPAL_HEADER)),
      }),
    });
    if (subgraphs.length > 1) log.warn('a subgraph-only process serves its first role only; give each subgraph its own process');
  }

  // Live streams: from this process's events subgraph, or else from the events subgraph elsewhere (its log over
  // GraphQL, live events from the Redis bus; without Redis, from reading its log every EVENTS_LOG_POLL_MS).
  let events: EventStreamSource | undefined = (subgraphs.find((s) => s.name === 'events') as { service?: EventsService } | undefined)?.service;
  let remoteBus: EventBus | undefined;
  if (!events && gatewayRole && config.subgraphUrls.events) {
    remoteBus = kv?.redis ? await redisBus(kv.redis, `${config.redisPrefix}events`, log) : memoryBus();
    const overflows = new Counter({
      name: 'hub_event_subscriber_overflows_total',
      help: 'Times a slow live subscriber had more than EVENTS_SUBSCRIBER_BUFFER events waiting; it then reads them from the log',
      registers: [metrics],
    });
    events = {
      stream: createLiveStream({
        log: remoteEventLog(config.subgraphUrls.events, config.internalKeys),
        bus: remoteBus,
        pollMs: config.eventsLogPollMs,
        inboxLimit: config.eventsSubscriberBuffer,
        onOverflow: () => overflows.inc(),
      }),
    };
    if (!kv?.redis) log.warn('no REDIS_URL: event subscriptions on this gateway see new events by polling the events subgraph');
  }
  const auth = gatewayRole ? createAuthenticator(config.auth, log) : undefined;
  const shutdown = new AbortController();
  const server: Server = createHttpServer({
    auth,
    yoga,
    log,
    metrics,
    readiness,
    maxBodyBytes: config.maxBodyBytes,
    rest: gatewayRole,
    kv,
    rateLimitPerMinute: config.rateLimitPerMinute,
    events,
    shutdown: shutdown.signal,
    internal: config.internalKeys ? { keys: config.internalKeys, audience: gatewayRole ? localNames : localNames.slice(0, 1) } : undefined,
    subgraphOnly: !gatewayRole,
    doors: gatewayRole ? config.doors : undefined,
  });
  server.keepAliveTimeout = 65_000;
  const ws = gatewayRole ? attachSubscriptions(server, yoga, events, log, auth!, { config, kv, upstream: () => upstream }) : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url: `${url}/graphql`, roles: config.roles, database: runtime?.database.kind, redis: kv?.kind }, 'hub listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    runtime,
    subgraphs,
    runRetention: (now) => retention?.run(now) ?? Promise.resolve({}),
    close() {
      closing ??= (async () => {
        // Stop taking requests, let in-flight ones finish (up to the grace period), then close the pools.
        const closed = new Promise<void>((r) => server.close(() => r()));
        shutdown.abort(); // open event streams end
        await ws?.close();
        // A keep-alive connection busy now goes idle once its response is sent: keep sweeping until all are gone.
        server.closeIdleConnections();
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        const grace = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
        await closed;
        clearTimeout(grace);
        clearInterval(sweep);
        await gateway?.stop().catch(() => {});
        for (const s of subgraphs) await s.stop?.();
        await remoteBus?.close();
        await runtime?.close();
        await nhsSimulator?.close();
        await hmrcSimulator?.close();
        await bankSimulator?.close();
        await regulatorSimulators.cqc?.close();
        await regulatorSimulators.dbs?.close();
        if (ownKv) await kv?.close();
      })();
      return closing;
    },
  };
}

/**
 * BODY_LIMIT_IN_SERVER: yoga's own body limit is off. The HTTP server (server.ts) refuses a body over
 * MAX_BODY_BYTES before yoga sees it, declared or chunked (read under the limit first), and Node's HTTP parser
 * never delivers more than a declared Content-Length. Yoga's limit would pipe every body through a
 * TransformStream anyway (a stream pipeline, an AbortController and a DOMException per request: about 8% of the
 * gateway's CPU for a single-event publish, profiled in the events bench).
 */

/**
 * What resolvers put in the request context's extensions goes into the response (e.g. `stale`: records served from
 * cache while their upstream was unreachable). A subgraph-only process nests them under `hub` for its gateway.
 */
function useResponseExtensions(under?: string): Plugin {
  return {
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          const ext = (args.contextValue as RequestContext).extensions;
          if (!ext || !Object.keys(ext).length || !('data' in result || 'errors' in result) || 'next' in result) return;
          const r = result as { extensions?: Record<string, unknown> };
          setResult({ ...result, extensions: { ...r.extensions, ...(under ? { [under]: ext } : ext) } } as never);
        },
      };
    },
  };
}

/** Loopback is refused by the SSRF guard: an in-process simulator is allowed exactly at its own host and port. */
function allowing(config: HubConfig, url: string): string[] {
  const origin = new URL(url);
  return [...config.outboundAllow, `${origin.hostname}:${origin.port}`];
}

/** Starts the CQC and DBS simulators the configuration asks for (simulated without a base URL), marked SIMULATED. */
async function withInProcessRegulatorSimulators(config: HubConfig, log: Logger): Promise<{ config: HubConfig; simulators: { cqc?: CqcSimulator; dbs?: DbsSimulator } }> {
  const { cqc, dbs } = config.regulatory;
  const wantCqc = cqc.environment === 'simulated' && !cqc.baseUrl;
  const wantDbs = dbs.environment === 'simulated' && !dbs.baseUrl;
  if (!wantCqc && !wantDbs) return { config, simulators: {} };
  const { startCqcSimulator, startDbsSimulator } = await import('@hub/simulators');
  const subscriptionKey = 'simulated-cqc-subscription-key';
  const simulators = { cqc: wantCqc ? await startCqcSimulator({ subscriptionKey }) : undefined, dbs: wantDbs ? await startDbsSimulator() : undefined };
  if (simulators.cqc) log.warn({ cqc: simulators.cqc.url }, 'CQC is SIMULATED: no CQC_ENVIRONMENT configured, the register comes from the local CQC simulator');
  if (simulators.dbs) log.warn({ dbs: simulators.dbs.url }, 'the DBS Update Service is SIMULATED: status checks go to the local DBS simulator');
  const allow = [...(simulators.cqc ? allowing(config, simulators.cqc.url) : config.outboundAllow), ...(simulators.dbs ? allowing(config, simulators.dbs.url) : [])];
  return {
    simulators,
    config: {
      ...config,
      outboundAllow: [...new Set(allow)],
      regulatory: {
        ...config.regulatory,
        cqc: simulators.cqc ? { ...cqc, baseUrl: simulators.cqc.url, subscriptionKey } : cqc,
        dbs: simulators.dbs ? { ...dbs, baseUrl: simulators.dbs.url } : dbs,
      },
    },
  };
}

/** Starts the Open Banking simulator with a signing key made for it, and points the payments at it. */
async function withInProcessBankSimulator(config: HubConfig): Promise<{ config: HubConfig; simulator: OpenBankingSimulator }> {
  const { startOpenBankingSimulator } = await import('@hub/simulators');
  const { privateKey, publicKey } = await generateKeyPair('PS256', { extractable: true });
  const registration = { clientId: 'care-home-hub-simulated', clientSecret: 'simulated-secret', kid: 'hub-simulated-1', issuer: 'care-home-hub-simulated' };
  const simulator = await startOpenBankingSimulator({
    clientId: registration.clientId,
    clientSecret: registration.clientSecret,
    issuer: registration.issuer,
    signingKeys: { [registration.kid]: await exportSPKI(publicKey) },
  });
  return {
    simulator,
    config: {
      ...config,
      outboundAllow: allowing(config, simulator.url),
      openBanking: {
        baseUrl: simulator.url,
        clientId: registration.clientId,
        clientSecret: registration.clientSecret,
        redirectUri: config.openBanking.redirectUri ?? `http://localhost:${config.port || 4000}/api/integration/banking/oauth/callback`,
        signingKeyPem: await exportPKCS8(privateKey),
        signingKid: registration.kid,
        issuer: registration.issuer,
      },
    },
  };
}

/** Starts the HMRC simulator and points the connector at it with its own application credentials, marked SIMULATED. */
async function withInProcessHmrcSimulator(config: HubConfig): Promise<{ config: HubConfig; simulator: HmrcSimulator }> {
  const { startHmrcSimulator } = await import('@hub/simulators');
  const client = { clientId: 'care-home-hub-simulated', clientSecret: 'simulated-secret' };
  const simulator = await startHmrcSimulator({ ...client, rateLimitPerSecond: config.hmrc.rateLimitPerSecond });
  return {
    simulator,
    config: {
      ...config,
      outboundAllow: allowing(config, simulator.url),
      hmrc: {
        ...config.hmrc,
        environment: 'simulated',
        baseUrl: simulator.url,
        ...client,
        redirectUri: config.hmrc.redirectUri ?? `http://localhost:${config.port || 4000}/api/integration/hmrc/oauth/callback`,
      },
    },
  };
}

/** Starts the NHS simulator (its fixture keys and mailboxes) and points the connector at it, marked SIMULATED. */
async function withInProcessNhsSimulator(config: HubConfig): Promise<{ config: HubConfig; simulator: NhsSimulator }> {
  const { nhsFixtureKeys, nhsSimulatorDefaults, startNhsSimulator } = await import('@hub/simulators');
  const defaults = nhsSimulatorDefaults();
  const [mailbox, password] = Object.entries(defaults.meshMailboxes)[0]!;
  const simulator = await startNhsSimulator({ ...defaults, rateLimitPerSecond: config.nhs.rateLimitPerSecond, syntheticPatients: 20 });
  return {
    simulator,
    config: {
      ...config,
      outboundAllow: allowing(config, simulator.url),
      nhs: {
        ...config.nhs,
        environment: 'simulated',
        baseUrl: simulator.url,
        tokenUrl: simulator.tokenUrl,
        apiKey: defaults.apiKey,
        privateKeyPem: nhsFixtureKeys.privateKeyPem,
        keyId: nhsFixtureKeys.kid,
        meshUrl: simulator.meshBaseUrl,
        meshMailbox: mailbox,
        meshPassword: password,
        meshSharedKey: defaults.meshSharedKey,
      },
    },
  };
}
