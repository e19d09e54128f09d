import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import type { HubError } from '../errors.ts';
import { createOutboundGuard, refusedRange } from './guard.ts';

const refusal = (f: () => unknown): HubError => {
  try {
    f();
  } catch (e) {
    return e as HubError;
  }
  throw new Error('expected a refusal');
};

describe('SSRF guard: IPv6 forms that reach IPv4', () => {
  it.each([
    ['::127.0.0.1', 'ipv4Compatible'],
    ['::10.0.0.1', 'ipv4Compatible'],
    ['::8.8.8.8', 'ipv4Compatible'], // deprecated form: refused whatever it embeds
    ['::a00:1', 'ipv4Compatible'],
    ['64:ff9b::10.0.0.1', 'rfc6052'],
    ['64:ff9b::8.8.8.8', 'rfc6052'],
    ['64:ff9b:1::a00:1', 'rfc6052'],
    ['64:ff9b:1:ffff::1', 'rfc6052'],
  ])('refuses %s (%s)', (address, range) => {
    expect(refusedRange(address)).toBe(range);
    const e = refusal(() => createOutboundGuard({ allow: [] }).assertUrlAllowed(`http://[${address}]/`));
    expect(e.code).toBe('OUTBOUND_REFUSED');
    expect(e.details?.reason).toBe(range);
  });

  it('still tells the loopback and unspecified addresses apart, and lets public IPv6 through', () => {
    expect(refusedRange('::1')).toBe('loopback');
    expect(refusedRange('::')).toBe('unspecified');
    expect(refusedRange('::ffff:127.0.0.1')).toBe('ipv4Mapped:loopback');
    expect(refusedRange('::ffff:8.8.8.8')).toBeUndefined();
    expect(refusedRange('2606:4700:4700::1111')).toBeUndefined();
    expect(refusedRange('64:ff9c::1')).toBeUndefined(); // just outside the NAT64 prefix
  });

  it('an allow-list entry still opens an otherwise refused form', () => {
    expect(() => createOutboundGuard({ allow: ['64:ff9b::/96'] }).assertUrlAllowed('http://[64:ff9b::a00:1]/')).not.toThrow();
  });

  it('a name that resolves to an internal address is refused without showing the address', async () => {
    const guard = createOutboundGuard({ allow: [] });
    const e = await new Promise<HubError>((done) =>
      (guard.lookup as unknown as (h: string, o: object, cb: (e: Error | null, a: LookupAddress[]) => void) => void)('localhost', { all: true, family: 4 }, (err) =>
        done(err as HubError),
      ),
    );
    expect(e.code).toBe('OUTBOUND_REFUSED');
    expect(e.message).toBe('outbound request refused: localhost resolves to a loopback address; add "localhost" to OUTBOUND_ALLOW to allow it');
    expect(JSON.stringify(e.details)).not.toContain('127.0.0.1');
  });
});
