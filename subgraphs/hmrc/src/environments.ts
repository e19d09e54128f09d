import type { HmrcConfig } from '@hub/runtime';

/** HMRC's API platform (https://developer.service.hmrc.gov.uk): APIs and OAuth share one base URL. */
export const HMRC_ENVIRONMENTS: Record<Exclude<HmrcConfig['environment'], 'simulated'>, string> = {
  sandbox: 'https://test-api.service.hmrc.gov.uk',
  production: 'https://api.service.hmrc.gov.uk',
};

export const VAT_ACCEPT = 'application/vnd.hmrc.1.0+json';
export const VAT_SCOPES = 'read:vat write:vat';
