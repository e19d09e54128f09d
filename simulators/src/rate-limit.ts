/**
 * Fixed one-second window limiter. Rejected requests do not count towards the
 * window, so a client that honours Retry-After recovers on the next window.
 */
export class RateLimiter {
  private windowStart = 0;
  private used = 0;

  constructor(private readonly perSecond: number) {
    if (!(Number.isInteger(perSecond) && perSecond > 0)) throw new Error('rateLimitPerSecond must be a positive integer');
  }

  /** Returns undefined when allowed, otherwise the whole seconds to wait (for Retry-After). */
  check(now = Date.now()): number | undefined {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used < this.perSecond) {
      this.used += 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((this.windowStart + 1000 - now) / 1000));
  }
}
