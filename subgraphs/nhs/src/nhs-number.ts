import { badInput } from '@hub/runtime';

/**
 * NHS number check: 10 digits, the last a Modulus 11 check digit over the first nine (weights 10..2).
 * A remainder giving 10 means the number can never be valid.
 */
export function isValidNhsNumber(value: string): boolean {
  if (!/^\d{10}$/.test(value)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(value[i]) * (10 - i);
  const check = 11 - (sum % 11);
  const expected = check === 11 ? 0 : check;
  return expected !== 10 && expected === Number(value[9]);
}

/** Spaces and dashes as people write them ("943 476 5919") are accepted; anything else is refused before any call. */
export function nhsNumber(input: string): string {
  const value = input.replace(/[\s-]/g, '');
  if (!isValidNhsNumber(value)) {
    throw badInput(`"${input}" is not a valid NHS number (10 digits with a Modulus 11 check digit)`, { field: 'nhsNumber' });
  }
  return value;
}
