import { badInput } from '@hub/runtime';

/** ISO 4217 minor units where they are not 2 (amounts are kept as whole minor units, never binary fractions). */
const EXPONENTS: Record<string, number> = { JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, XOF: 0, XAF: 0, BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3 };
export const exponent = (currency: string) => EXPONENTS[currency] ?? 2;

/** "1234.5" in GBP is 123450 pence; more decimals than the currency has is an error, not a rounding. */
export function toMinor(amount: string, currency: string, field: string): bigint {
  if (!/^[A-Z]{3}$/.test(currency)) throw badInput(`${field}: ${JSON.stringify(currency)} is not an ISO 4217 currency code`, { field });
  const m = /^(-?)(\d{1,15})(?:\.(\d+))?$/.exec(amount.trim());
  const e = exponent(currency);
  if (!m || (m[3] ?? '').length > e) throw badInput(`${field}: ${JSON.stringify(amount)} is not an amount in ${currency} (at most ${e} decimals)`, { field });
  const minor = BigInt(m[2]!) * 10n ** BigInt(e) + BigInt((m[3] ?? '').padEnd(e, '0') || '0');
  return m[1] ? -minor : minor;
}

export function fromMinor(minor: bigint, currency: string): string {
  const e = exponent(currency);
  const neg = minor < 0n;
  const abs = (neg ? -minor : minor).toString().padStart(e + 1, '0');
  const text = e ? `${abs.slice(0, -e)}.${abs.slice(-e)}` : abs;
  return neg ? `-${text}` : text;
}

export const money = (minor: bigint, currency: string) => ({ amount: fromMinor(minor, currency), currency });
