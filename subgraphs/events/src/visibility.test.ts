import { describe, expect, it } from 'vitest';
import { servicePrincipal, type Principal, type Scope } from '@hub/runtime';
import { assertMayUse, isReservedSource, isReservedType, mayRead, requiredScope } from './visibility.ts';

const client = (scopes: Scope[], homeIds: string[] | null = null): Principal => ({ client: 'app', organisationId: 'org-a', homeIds, scopes: new Set(scopes) });

describe('requiredScope', () => {
  it('asks health for nhs.*, finance for hmrc.* and bank.*, whatever the case, and nothing more of the rest', () => {
    expect(requiredScope('nhs.demographics.read')).toBe('health');
    expect(requiredScope('NHS.Demographics')).toBe('health');
    expect(requiredScope('nhs')).toBe('health');
    expect(requiredScope('hmrc.vat.submitted')).toBe('finance');
    expect(requiredScope('bank.payment.settled')).toBe('finance');
    for (const t of ['nhsish.event', 'banking-app.x', 'system.registered', 'residents.admitted']) expect(requiredScope(t), t).toBeNull();
  });
});

describe('reserved names', () => {
  it('reserves the hub’s types and sources for service principals', () => {
    for (const t of ['system.x', 'sync.started', 'integration.created', 'nhs.x', 'HMRC.x', 'bank.x', 'mapping.x', 'api.x', 'care.admission', 'care']) expect(isReservedType(t), t).toBe(true);
    for (const t of ['careful.x', 'systems-app.x', 'residents.x']) expect(isReservedType(t), t).toBe(false);
    expect(isReservedSource('hub')).toBe(true);
    expect(isReservedSource('hub.outbox')).toBe(true);
    expect(isReservedSource('hubspot')).toBe(false);
    expect(() => assertMayUse(client(['read', 'write']), { type: 'nhs.x' })).toThrow(/reserved/);
    expect(() => assertMayUse(client(['read', 'write']), { type: 'app.x', source: 'hub.x' }, 'inputs[2].')).toThrow(/inputs\[2\]\.source hub\.x is reserved/);
    expect(() => assertMayUse(servicePrincipal('org-a'), { type: 'nhs.x', source: 'hub.nhs' })).not.toThrow();
  });
});

describe('mayRead', () => {
  const e = (type: string, organisationId = 'org-a', homeId: string | null = null) => ({ type, organisationId, homeId });
  it('needs the organisation, the type’s scope and (for a client limited to homes) one of its homes', () => {
    expect(mayRead(client(['read']), e('app.x'))).toBe(true);
    expect(mayRead(client(['read']), e('app.x', 'org-b'))).toBe(false);
    expect(mayRead(client(['read']), e('nhs.x'))).toBe(false);
    expect(mayRead(client(['read', 'health']), e('nhs.x'))).toBe(true);
    expect(mayRead(client(['read', 'health']), e('bank.x'))).toBe(false);
    expect(mayRead(client(['read'], ['home-1']), e('app.x', 'org-a', 'home-1'))).toBe(true);
    expect(mayRead(client(['read'], ['home-1']), e('app.x', 'org-a', 'home-2'))).toBe(false);
    expect(mayRead(client(['read'], ['home-1']), e('app.x'))).toBe(true);
  });
});
