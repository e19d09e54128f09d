import { describe, expect, it } from 'vitest';
import { nextRetentionRun } from './retention.ts';

describe('the retention schedule', () => {
  it('runs at the next 03:00 UTC', () => {
    expect(nextRetentionRun(new Date('2026-12-03T01:59:00Z')).toISOString()).toBe('2026-12-03T03:00:00.000Z');
    expect(nextRetentionRun(new Date('2026-12-03T03:00:00Z')).toISOString()).toBe('2026-12-04T03:00:00.000Z');
    expect(nextRetentionRun(new Date('2026-12-31T22:00:00Z')).toISOString()).toBe('2027-01-01T03:00:00.000Z');
  });
});
