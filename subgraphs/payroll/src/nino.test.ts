import { describe, expect, it } from 'vitest';
import { ninoProblem } from './nino.ts';

describe('NINO', () => {
  it('accepts issued numbers', () => {
    expect(ninoProblem('AB123456C')).toBeNull();
    expect(ninoProblem('ab 12 34 56 c')).toBeNull();
  });
  it.each(['AB12345C', 'AB123456E', '12345678A', 'DA123456A', 'AO123456A', 'QQ123456A', 'BG123456A', 'GB123456A', 'NK123456A', 'TN123456A', 'ZZ123456A', 'KN123456B', 'NT123456A'])('refuses %s', (n) => {
    expect(ninoProblem(n)).not.toBeNull();
  });
});
