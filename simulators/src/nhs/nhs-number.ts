/**
 * NHS number Modulus 11: weights 10..2 on the first nine digits; check = 11 - (sum mod 11);
 * 11 means 0 and 10 means the number is invalid.
 */
export function nhsCheckDigit(firstNine: string): number | undefined {
  if (!/^\d{9}$/.test(firstNine)) return undefined;
  let sum = 0;
  for (let i = 0; i < 9; i += 1) sum += Number(firstNine[i]) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 11) return 0;
  if (check === 10) return undefined;
  return check;
}

export function isValidNhsNumber(value: string): boolean {
  if (!/^\d{10}$/.test(value)) return false;
  return nhsCheckDigit(value.slice(0, 9)) === Number(value[9]);
}

/** Never allocated to a synthetic patient: the PDS sandbox's "valid but does not exist" number. */
export const MISSING_NHS_NUMBER = '9111231130';

/**
 * The NHS numbers of the `n` synthetic patients `syntheticPatients: n` adds, in order: valid Modulus 11 numbers
 * 900000100C, 900000101C, ... skipping prefixes whose check digit would be 10.
 */
export function syntheticNhsNumbers(n: number): string[] {
  if (!(Number.isInteger(n) && n >= 0)) throw new Error('syntheticPatients must be a non-negative integer');
  const out: string[] = [];
  for (let prefix = 900000100; out.length < n; prefix += 1) {
    const check = nhsCheckDigit(String(prefix));
    if (check === undefined) continue;
    const nhs = `${prefix}${check}`;
    if (nhs !== MISSING_NHS_NUMBER) out.push(nhs);
  }
  return out;
}
