import { internalFetch, servicePrincipal, upstreamUnavailable, type CareDirectory, type CareStay, type InternalKeys, type Principal, type ResidentEraser } from '@hub/runtime';

const CARE_STATUS = 'query($n: String!) { careStatus(nhsNumber: $n) { inCare residentId homeId } }';

/**
 * The care subgraph in another process, asked over its GraphQL API: as the caller itself (signed, so the care
 * subgraph applies the caller's own organisation and homes), or as the hub for one organisation's pseudonyms.
 */
export function remoteCareDirectory(url: string, keys: InternalKeys | undefined): CareDirectory {
  async function status(p: Principal, nhsNumber: string): Promise<{ inCare: boolean; residentId: string | null; homeId: string | null }> {
    let res: Response;
    try {
      res = await internalFetch(keys, p, 'care', url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: CARE_STATUS, variables: { n: nhsNumber } }),
        signal: AbortSignal.timeout(5_000),
      });
    } catch (err) {
      throw upstreamUnavailable('hub.care', 'the care subgraph is not reachable', undefined, err);
    }
    const body = (await res.json().catch(() => ({}))) as { data?: { careStatus?: { inCare: boolean; residentId: string | null; homeId: string | null } }; errors?: Array<{ message: string }> };
    if (!res.ok || !body.data?.careStatus) throw upstreamUnavailable('hub.care', `the care subgraph answered HTTP ${res.status}${body.errors?.[0] ? `: ${body.errors[0].message}` : ''}`);
    return body.data.careStatus;
  }
  return {
    async inCare(p, nhsNumber): Promise<CareStay | null> {
      const s = await status(p, nhsNumber);
      return s.inCare && s.residentId && s.homeId ? { residentId: s.residentId, homeId: s.homeId } : null;
    },
    async residentId(organisationId, nhsNumber) {
      return (await status(servicePrincipal(organisationId, 'hub.nhs'), nhsNumber)).residentId;
    },
  };
}

/**
 * A subgraph in another process that erases a resident's data (ResidentEraser), asked through its internal-only
 * mutation (`@inaccessible`: in the subgraph's own schema, not in the public graph), signed as the caller.
 * `select` is the mutation's selection set, if it returns an object.
 */
export function remoteResidentEraser(name: string, url: string, keys: InternalKeys | undefined, mutation: string, select = ''): ResidentEraser {
  const query = `mutation($r: ID!, $n: String!) { ${mutation}(residentId: $r, nhsNumber: $n)${select ? ` { ${select} }` : ''} }`;
  return {
    name,
    async erase(p, subject) {
      let res: Response;
      try {
        res = await internalFetch(keys, p, name, url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query, variables: { r: subject.residentId, n: subject.nhsNumber } }),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        throw upstreamUnavailable(`hub.${name}`, `the ${name} subgraph is not reachable: nothing was erased there yet`, undefined, err);
      }
      const body = (await res.json().catch(() => ({}))) as { data?: Record<string, unknown>; errors?: Array<{ message: string }> };
      const out = body.data?.[mutation];
      if (!res.ok || out == null) throw upstreamUnavailable(`hub.${name}`, `the ${name} subgraph answered HTTP ${res.status}${body.errors?.[0] ? `: ${body.errors[0].message}` : ''}`);
      return typeof out === 'number' ? { [name]: out } : (out as Record<string, number>);
    },
  };
}
