export { createOutboundGuard, refusedRange, type OutboundGuard } from './guard.ts';
export {
  createHttpClient,
  parseRetryAfter,
  type BreakerState,
  type HttpClient,
  type HttpClientOptions,
  type HttpMethod,
  type OutboundMetric,
  type OutboundRequest,
  type OutboundResponse,
  type TlsIdentity,
} from './client.ts';
export {
  createAuthenticator,
  type AuthConfig,
  type AuthKind,
  type Authenticator,
  type Authorization,
  type Credentials,
} from './auth.ts';
