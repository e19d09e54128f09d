import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { HubError, refused } from '../errors.ts';

/**
 * SSRF guard. External-system URLs are typed in by users, so without this a URL like http://169.254.169.254/
 * (cloud metadata) or http://10.0.0.5:5432/ would let anyone with write access probe the hub's own network.
 * Internal targets (simulators, on-prem bridges) are opened one by one with OUTBOUND_ALLOW.
 */

type IP = ipaddr.IPv4 | ipaddr.IPv6;

// Names from ipaddr.js range(); everything else (unicast, 6to4, teredo, ...) is public enough to call.
const REFUSED_V4 = new Set(['unspecified', 'broadcast', 'multicast', 'linkLocal', 'loopback', 'carrierGradeNat', 'private', 'reserved']);
const REFUSED_V6 = new Set(['unspecified', 'linkLocal', 'multicast', 'loopback', 'uniqueLocal', 'reserved']);
// IPv6 forms that carry an IPv4 address in their last 32 bits and reach it (mapped, translated).
const EMBEDS_V4 = new Set(['ipv4Mapped', 'rfc6145']);
// NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48, both `rfc6052` to ipaddr.js) reaches whatever IPv4 address
// the network's translator is given, the hub's own network included; the deprecated IPv4-compatible form
// (::a.b.c.d) is routed as that IPv4 address by some stacks. Neither is needed to call a public system: refused.
const REFUSED_FORMS = new Set(['rfc6052', 'ipv4Compatible']);
// ipaddr.js lists fec0::/10 (deprecated site-local) but not by a name its types know.
const SITE_LOCAL = ipaddr.IPv6.parseCIDR('fec0::/10');

const LABEL: Record<string, string> = {
  unspecified: 'an unspecified',
  broadcast: 'a broadcast',
  multicast: 'a multicast',
  linkLocal: 'a link-local',
  loopback: 'a loopback',
  carrierGradeNat: 'a carrier-grade NAT',
  private: 'a private',
  uniqueLocal: 'a private (unique local)',
  reserved: 'a reserved',
  siteLocal: 'a site-local',
  rfc6052: 'a NAT64 (64:ff9b::/96, 64:ff9b:1::/48)',
  ipv4Compatible: 'an IPv4-compatible IPv6 (::a.b.c.d)',
};

/** Why an address may not be called, e.g. 'loopback' or 'ipv4Mapped:private'; undefined when it is public. */
export function refusedRange(address: string | IP): string | undefined {
  const ip = typeof address === 'string' ? parseIp(address) : address;
  if (!ip) return 'invalid';
  if (ip.kind() === 'ipv4') {
    const r = ip.range();
    return REFUSED_V4.has(r) ? r : undefined;
  }
  const v6 = ip as ipaddr.IPv6;
  let r: string = v6.range();
  // ::/96 less :: and ::1 (which range() names): an IPv4-compatible address.
  if (r === 'unicast' && v6.parts.slice(0, 6).every((p) => p === 0)) r = 'ipv4Compatible';
  if (REFUSED_FORMS.has(r)) return r;
  if (EMBEDS_V4.has(r) || r === '6to4') {
    const inner = refusedRange(embeddedV4(v6, r === '6to4' ? 2 : 12));
    return inner ? `${r}:${inner}` : undefined;
  }
  if (v6.match(SITE_LOCAL)) return 'siteLocal';
  return REFUSED_V6.has(r) ? r : undefined;
}

// Mapped and translated addresses carry the IPv4 address in the last 4 bytes, 6to4 (2002:AABB:CCDD::) right after 2002.
function embeddedV4(v6: ipaddr.IPv6, at: number): ipaddr.IPv4 {
  return new ipaddr.IPv4(v6.toByteArray().slice(at, at + 4));
}

function parseIp(s: string): IP | undefined {
  const bare = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  // isValidFourPartDecimal: do not let an allow-list entry like "10" silently mean 0.0.0.10.
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  if (ipaddr.IPv6.isValid(bare)) {
    // ipaddr.js reads "::a.b.c.d" as the mapped ::ffff:a.b.c.d; spell a dotted tail as hex so each form keeps its range.
    const dotted = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(bare);
    if (dotted) {
      const [a, b, c, d] = dotted.slice(2).map(Number) as [number, number, number, number];
      return ipaddr.IPv6.parse(`${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`);
    }
    return ipaddr.IPv6.parse(bare);
  }
  return undefined;
}

function describe(range: string): string {
  const [outer, inner] = range.split(':');
  if (inner) return `an IPv6 form (${outer}) of ${LABEL[inner] ?? inner} address`;
  return `${LABEL[outer ?? ''] ?? outer} address`;
}

const normHost = (h: string) => h.toLowerCase().replace(/\.$/, '');

interface AllowList {
  cidrs: Array<[IP, number]>;
  /** hostname → null (any port) or the allowed ports. */
  hosts: Map<string, Set<number> | null>;
  /** literal IP (normalised) → allowed ports, for "127.0.0.1:8080" / "[::1]:8080" entries. */
  ipPorts: Map<string, Set<number>>;
}

function parseAllow(entries: readonly string[]): AllowList {
  const list: AllowList = { cidrs: [], hosts: new Map(), ipPorts: new Map() };
  for (const raw of entries) {
    const entry = raw.trim();
    if (!entry) continue;
    const bad = () => new Error(`OUTBOUND_ALLOW: "${entry}" is not a hostname, host:port, IP address or CIDR`);
    if (entry.includes('/')) {
      if (!ipaddr.isValidCIDR(entry)) throw bad();
      list.cidrs.push(ipaddr.parseCIDR(entry));
      continue;
    }
    const ip = parseIp(entry);
    if (ip) {
      list.cidrs.push([ip, ip.kind() === 'ipv4' ? 32 : 128]);
      continue;
    }
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(entry);
    if (m) {
      const host = m[1] ?? '';
      const port = Number(m[2]);
      if (port < 1 || port > 65535) throw bad();
      const hostIp = parseIp(host);
      if (hostIp) {
        const key = hostIp.toNormalizedString();
        list.ipPorts.set(key, (list.ipPorts.get(key) ?? new Set()).add(port));
      } else {
        const key = normHost(host);
        const prev = list.hosts.get(key);
        if (prev !== null) list.hosts.set(key, (prev ?? new Set()).add(port));
      }
      continue;
    }
    if (!/^[a-z0-9.-]+$/i.test(entry)) throw bad();
    list.hosts.set(normHost(entry), null); // a bare hostname wins over host:port entries
  }
  return list;
}

export interface OutboundGuard {
  /** Throws HubError OUTBOUND_REFUSED unless the URL may be called; returns the parsed URL. */
  assertUrlAllowed(url: string): URL;
  /** dns.lookup replacement for undici's `connect.lookup`: checks every address a name resolves to. */
  lookup: LookupFunction;
}

export function createOutboundGuard(opts: { allow: readonly string[] }): OutboundGuard {
  const allow = parseAllow(opts.allow);

  const inAllowedCidr = (ip: IP) => {
    const forms: IP[] = [ip];
    // Let "127.0.0.1/32" also cover ::ffff:127.0.0.1, and vice versa.
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) forms.push((ip as ipaddr.IPv6).toIPv4Address());
    if (ip.kind() === 'ipv4') forms.push((ip as ipaddr.IPv4).toIPv4MappedAddress());
    return allow.cidrs.some(([net, bits]) => forms.some((f) => f.kind() === net.kind() && f.match(net, bits)));
  };

  function assertUrlAllowed(url: string): URL {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      // The URL itself is not echoed: it may carry credentials.
      throw refused('outbound request refused: not a valid absolute URL', { reason: 'invalid-url' });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw refused(`outbound request refused: scheme "${u.protocol.replace(/:$/, '')}" is not allowed (only http and https)`, {
        reason: 'scheme',
      });
    }
    if (u.username || u.password) {
      throw refused(
        'outbound request refused: the URL contains credentials (user:password@); store them as the system\'s credentials instead',
        { reason: 'credentials-in-url' },
      );
    }
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    // WHATWG URL already normalised odd IPv4 spellings (http://2130706433/, http://0x7f.1/) to dotted form.
    const ip = parseIp(u.hostname);
    if (!ip) {
      const ports = allow.hosts.get(normHost(u.hostname));
      if (ports && !ports.has(port)) {
        throw refused(
          `outbound request refused: ${u.hostname} is allowed by OUTBOUND_ALLOW only on port ${[...ports].join(', ')}, not ${port}`,
          { host: u.hostname, reason: 'port' },
        );
      }
      return u; // names are checked again, per resolved address, by lookup() when connecting
    }
    const range = refusedRange(ip);
    if (!range) return u;
    if (inAllowedCidr(ip) || allow.ipPorts.get(ip.toNormalizedString())?.has(port)) return u;
    const shown = u.hostname;
    throw refused(
      `outbound request refused: ${shown} is ${describe(range)}; add "${shown.replace(/^\[|\]$/g, '')}" or "${shown}:${port}" to OUTBOUND_ALLOW to allow it`,
      { host: shown, reason: range },
    );
  }

  // Resolving here and handing the checked addresses to the socket means the name cannot be re-resolved to
  // something else between the check and the connect (DNS rebinding).
  const lookup = ((hostname: string, optionsOrCb: LookupOptions | ((...a: unknown[]) => void), cb?: (...a: unknown[]) => void) => {
    const [options, callback] = typeof optionsOrCb === 'function' ? [{}, optionsOrCb] : [optionsOrCb ?? {}, cb!];
    const wantsAll = options.all === true;
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, wantsAll ? [] : '', 0);
      // host:port entries may pass here: assertUrlAllowed already pinned the port for those hosts.
      const hostAllowed = allow.hosts.has(normHost(hostname));
      if (!hostAllowed) {
        for (const a of addresses) {
          const ip = parseIp(a.address);
          const range = ip ? refusedRange(ip) : 'invalid';
          if (range && !(ip && inAllowedCidr(ip))) {
            // The resolved address is not shown: it would map the hub's internal network for whoever asks.
            const e: HubError = refused(
              `outbound request refused: ${hostname} resolves to ${describe(range)}; add "${hostname}" to OUTBOUND_ALLOW to allow it`,
              { host: hostname, reason: range },
            );
            return callback(e, wantsAll ? [] : '', 0);
          }
        }
      }
      if (wantsAll) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  }) as unknown as LookupFunction;

  return { assertUrlAllowed, lookup };
}
