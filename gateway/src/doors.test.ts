import { describe, expect, it } from 'vitest';
import { hostAllowed, OpenCounter, originAllowed } from './doors.ts';

const doors = { corsOrigins: ['https://care.example'], allowedHosts: ['hub.example', 'api.example:8443', 'localhost', '127.0.0.1', '[::1]'], wsMaxPayloadBytes: 1, wsConnectionInitTimeoutMs: 1, wsMaxConnectionsPerClient: 1, wsMaxSubscriptionsPerClient: 1, sseMaxStreamsPerClient: 1 };

describe('hostAllowed', () => {
  it('matches a name on any port, a name:port on that port only, IPv6 loopback, and nothing else', () => {
    expect(hostAllowed(doors, 'hub.example')).toBe(true);
    expect(hostAllowed(doors, 'HUB.example:4000')).toBe(true);
    expect(hostAllowed(doors, 'api.example:8443')).toBe(true);
    expect(hostAllowed(doors, 'api.example:9000')).toBe(false);
    expect(hostAllowed(doors, '[::1]:4000')).toBe(true);
    expect(hostAllowed(doors, 'evil.example')).toBe(false);
    expect(hostAllowed(doors, undefined)).toBe(false);
    expect(hostAllowed({ ...doors, allowedHosts: null }, 'anything')).toBe(true);
  });
});

describe('originAllowed', () => {
  it('lets non-browsers, the same origin and listed origins through', () => {
    expect(originAllowed(doors, undefined, 'hub.example')).toBe(true);
    expect(originAllowed(doors, 'https://hub.example', 'hub.example')).toBe(true);
    expect(originAllowed(doors, 'https://care.example', 'hub.example')).toBe(true);
    expect(originAllowed(doors, 'https://care.example.evil', 'hub.example')).toBe(false);
    expect(originAllowed(doors, 'null', 'hub.example')).toBe(false);
  });
});

describe('OpenCounter', () => {
  it('holds at most its limit per client and frees on release', () => {
    const c = new OpenCounter(2);
    expect([c.acquire('a'), c.acquire('a'), c.acquire('a'), c.acquire('b')]).toEqual([true, true, false, true]);
    c.release('a');
    expect(c.acquire('a')).toBe(true);
  });
});
