/**
 * A National Insurance number: two prefix letters, six digits, a suffix A–D. HMRC never issues D, F, I, Q, U or V as
 * either prefix letter, nor O as the second; nor the prefixes BG, GB, KN, NK, NT, TN and ZZ (nor temporary TN numbers).
 * Returns the reason it is not valid, or null.
 */
const NEVER_ISSUED = new Set(['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ']);

export function normaliseNino(raw: string): string {
  return raw.replace(/\s+/g, '').toUpperCase();
}

export function ninoProblem(raw: string): string | null {
  const n = normaliseNino(raw);
  if (!/^[A-Z]{2}\d{6}[A-D]$/.test(n)) return 'a National Insurance number is two letters, six digits and a letter A to D (such as QQ123456C)';
  const [a, b] = [n[0]!, n[1]!];
  if ('DFIQUV'.includes(a)) return `HMRC never issues National Insurance numbers starting ${a}`;
  if ('DFIOQUV'.includes(b)) return `HMRC never issues National Insurance numbers with ${b} as the second letter`;
  if (NEVER_ISSUED.has(a + b)) return `HMRC never issues the prefix ${a + b}`;
  return null;
}
