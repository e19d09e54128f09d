import { internalFetch, servicePrincipal, upstreamUnavailable, type CareDirectory, type CareStay, type InternalKeys, type Principal } from '@hub/runtime';

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
