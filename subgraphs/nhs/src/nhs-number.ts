import { badInput, isValidNhsNumber } from '@hub/runtime';

export { isValidNhsNumber };

/** Spaces and dashes as people write them ("943 476 5919") are accepted; anything else is refused before any call. */
export function nhsNumber(input: string): string {
  const value = input.replace(/[\s-]/g, '');
  if (!isValidNhsNumber(value)) {
    throw badInput(`"${input}" is not a valid NHS number (10 digits with a Modulus 11 check digit)`, { field: 'nhsNumber' });
  }
  return value;
}
