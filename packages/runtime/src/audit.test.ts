import { describe, expect, it } from 'vitest';
import { AUDIT_GENESIS, auditHash, verifyAuditChain, type AuditRecord } from './audit.ts';

function chain(n: number): AuditRecord[] {
  const rows: AuditRecord[] = [];
  let prev = AUDIT_GENESIS;
  for (let seq = 1; seq <= n; seq++) {
    const base = {
      organisationId: 'org-a',
      seq,
      at: new Date(Date.UTC(2026, 11, 3, 10, 0, seq)),
      client: 'care-app',
      userId: seq % 2 ? 'nurse-1' : null,
      action: 'registerExternalSystem',
      targetType: 'systems',
      targetId: `id-${seq}`,
      residentId: null,
      outcome: 'OK',
      requestId: `req-${seq}`,
      details: { name: `GP ${seq}`, nested: { b: 2, a: 1 } },
    };
    const hash = auditHash(prev, base);
    rows.push({ ...base, prevHash: prev, hash });
    prev = hash;
  }
  return rows;
}

describe('the audit chain', () => {
  it('verifies an untouched chain, and one continued from an earlier page', () => {
    const rows = chain(5);
    expect(verifyAuditChain(rows)).toMatchObject({ ok: true, rows: 5, last: { seq: 5, hash: rows[4]!.hash } });
    const first = verifyAuditChain(rows.slice(0, 2));
    expect(verifyAuditChain(rows.slice(2), first.last)).toMatchObject({ ok: true, rows: 3 });
  });

  it('hashes content canonically: the order of keys in details does not matter, their values do', () => {
    const [r] = chain(1);
    const { prevHash, hash, ...base } = r!;
    expect(auditHash(prevHash, { ...base, details: { nested: { a: 1, b: 2 }, name: 'GP 1' } })).toBe(hash);
    expect(auditHash(prevHash, { ...base, details: { ...base.details, name: 'GP 2' } })).not.toBe(hash);
  });

  it('finds the row that was altered, removed or inserted', () => {
    const altered = chain(4);
    altered[2] = { ...altered[2]!, outcome: 'FORBIDDEN' };
    expect(verifyAuditChain(altered)).toMatchObject({ ok: false, brokenAt: 3, reason: 'its content does not match its hash' });

    const removed = chain(4);
    removed.splice(1, 1);
    expect(verifyAuditChain(removed)).toMatchObject({ ok: false, brokenAt: 3, reason: 'row 2 is missing' });

    // A rewritten row with a freshly computed hash still breaks the link of the row after it.
    const forged = chain(4);
    const { prevHash, hash: _old, ...base } = { ...forged[1]!, targetId: 'someone-else' };
    forged[1] = { ...base, prevHash, hash: auditHash(prevHash, base) };
    expect(verifyAuditChain(forged)).toMatchObject({ ok: false, brokenAt: 3, reason: 'it does not link to the row before it' });
  });
});
