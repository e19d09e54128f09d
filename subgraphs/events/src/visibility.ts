import { and, isNull, notIlike, or, inArray, eq, ne, sql, type SQL } from 'drizzle-orm';
import { events } from '@hub/db';
import { forbidden, type Principal, type Scope } from '@hub/runtime';

/**
 * Who reads the log, as far as visibility goes: the organisation, what it may read and the homes it is limited to
 * (null: all of them). A principal is one; so is a webhook's or rule's creator, as its subscription recorded it.
 */
export type EventReader = Pick<Principal, 'organisationId' | 'scopes' | 'homeIds'>;

/**
 * Event types that describe what a field behind a scope describes: reading the event needs that scope too
 * (an NHS access is health data; a VAT return or a payment, finance).
 */
const SCOPED_TYPES: ReadonlyArray<readonly [prefix: string, scope: Scope]> = [
  ['nhs', 'health'],
  ['hmrc', 'finance'],
  ['bank', 'finance'],
];

/** The hub's own event types and sources: only the hub (a service principal) may publish them. */
const RESERVED_TYPES = ['system', 'sync', 'integration', 'nhs', 'hmrc', 'bank', 'mapping', 'api', 'care', 'regulatory', 'payroll'];
const RESERVED_SOURCES = ['hub'];

/** `nhs` and `nhs.anything`, whatever the case (types are matched case-insensitively wherever they decide access). */
const under = (name: string, prefix: string) => {
  const n = name.toLowerCase();
  return n === prefix || n.startsWith(`${prefix}.`);
};

/** The scope an event of this type needs beyond `read`, or null when `read` is enough. */
export function requiredScope(type: string): Scope | null {
  for (const [prefix, scope] of SCOPED_TYPES) if (under(type, prefix)) return scope;
  return null;
}

export const isReservedType = (type: string) => RESERVED_TYPES.some((p) => under(type, p));
export const isReservedSource = (source: string) => RESERVED_SOURCES.some((p) => under(source, p));

/** FORBIDDEN unless the principal is the hub itself: a client may not publish (or describe) the hub's own events. */
export function assertMayUse(p: Principal, what: { type?: string | null; source?: string | null }, field = '') {
  if (p.service) return;
  if (what.type != null && isReservedType(what.type)) {
    throw forbidden(`${field}type ${what.type} is reserved for the hub's own events (${RESERVED_TYPES.map((t) => `${t}.*`).join(', ')}); publish under a name of your own`, { field: `${field}type` });
  }
  if (what.source != null && isReservedSource(what.source)) {
    throw forbidden(`${field}source ${what.source} is reserved for the hub itself (hub.*); name your app instead`, { field: `${field}source` });
  }
}

/** Whether the reader may see this event: its organisation's, a type whose scope it holds, and one of its homes (or none). */
export function mayRead(r: EventReader, e: { organisationId: string; type: string; homeId?: string | null }): boolean {
  if (e.organisationId !== r.organisationId) return false;
  const scope = requiredScope(e.type);
  if (scope && !r.scopes.has(scope)) return false;
  if (r.homeIds !== null && e.homeId != null && !r.homeIds.includes(e.homeId)) return false;
  return true;
}

/** mayRead as SQL conditions on events.events, so the database skips what the reader may not see. */
export function readableBy(r: EventReader): SQL[] {
  const w: SQL[] = [eq(events.organisationId, r.organisationId)];
  for (const [prefix, scope] of SCOPED_TYPES) {
    if (r.scopes.has(scope)) continue;
    // ILIKE: the same case-insensitive match as requiredScope (no % or _ in the prefixes).
    w.push(and(ne(sql`lower(${events.type})`, prefix), notIlike(events.type, `${prefix}.%`))!);
  }
  if (r.homeIds !== null) w.push(r.homeIds.length ? or(isNull(events.homeId), inArray(events.homeId, [...r.homeIds]))! : isNull(events.homeId));
  return w;
}
