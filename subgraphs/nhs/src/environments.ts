import type { NhsConfig, NhsEnvironment } from '@hub/runtime';

/** The NHS API platform's environments (https://digital.nhs.uk/developer/guides-and-documentation). */
export const NHS_ENVIRONMENTS: Record<Exclude<NhsEnvironment, 'simulated'>, { apiBase: string; tokenUrl?: string; meshUrl?: string }> = {
  // Open-access sandbox: no authentication, canned responses for the sandbox patients.
  sandbox: { apiBase: 'https://sandbox.api.service.nhs.uk' },
  int: {
    apiBase: 'https://int.api.service.nhs.uk',
    tokenUrl: 'https://int.api.service.nhs.uk/oauth2/token',
    meshUrl: 'https://msg.intspineservices.nhs.uk/messageexchange',
  },
  production: {
    apiBase: 'https://api.service.nhs.uk',
    tokenUrl: 'https://api.service.nhs.uk/oauth2/token',
    meshUrl: 'https://mesh-sync.spineservices.nhs.uk/messageexchange',
  },
};

export type NhsApiName = 'pds' | 'scr' | 'eps' | 'mesh';

/** Where each API lives under the platform's base URL. */
export const API_PATHS: Record<Exclude<NhsApiName, 'mesh'>, string> = {
  pds: '/personal-demographics/FHIR/R4',
  scr: '/summary-care-record/FHIR/R4',
  eps: '/prescriptions-for-patients/FHIR/R4',
};

export interface ResolvedNhs {
  environment: NhsEnvironment;
  simulated: boolean;
  bases: Record<NhsApiName, string | undefined>;
  tokenUrl?: string;
  apiKey?: string;
  privateKeyPem?: string;
  keyId?: string;
  mesh?: { mailbox: string; password: string; sharedKey: string };
}

export function resolveNhs(c: NhsConfig): ResolvedNhs {
  // CONNECTORS_DISABLED=nhs: no base URLs; every NHS call answers that NHS is not configured (spine.ts).
  if (c.disabled) return { environment: c.environment, simulated: false, bases: { pds: undefined, scr: undefined, eps: undefined, mesh: undefined } };
  const env = c.environment === 'simulated' ? undefined : NHS_ENVIRONMENTS[c.environment];
  const apiBase = c.baseUrl ?? env?.apiBase;
  if (!apiBase) throw new Error('invalid configuration:\n  NHS_BASE_URL: required when NHS_ENVIRONMENT=simulated points at a simulator run elsewhere');
  const meshUrl = c.meshUrl ?? env?.meshUrl ?? (c.environment === 'simulated' ? `${apiBase}/messageexchange` : undefined);
  return {
    environment: c.environment,
    simulated: c.environment === 'simulated',
    bases: {
      pds: apiBase + API_PATHS.pds,
      scr: apiBase + API_PATHS.scr,
      eps: apiBase + API_PATHS.eps,
      mesh: meshUrl,
    },
    tokenUrl: c.tokenUrl ?? env?.tokenUrl ?? (c.apiKey ? `${apiBase}/oauth2/token` : undefined),
    apiKey: c.apiKey,
    privateKeyPem: c.privateKeyPem,
    keyId: c.keyId,
    mesh: c.meshMailbox && c.meshPassword && c.meshSharedKey ? { mailbox: c.meshMailbox, password: c.meshPassword, sharedKey: c.meshSharedKey } : undefined,
  };
}
