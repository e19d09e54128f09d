/**
 * The UK identifiers care-home data carries, checked the same way wherever the hub meets them (the NHS connector
 * before it calls the spine; data validation and mappings before anything is stored or sent on).
 */

/**
 * NHS number: 10 digits, the last a Modulus 11 check digit over the first nine (weights 10..2).
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

/** A UK postcode in its written form (outward code, space, inward code), e.g. "SW1A 1AA"; GIR 0AA included. */
export const UK_POSTCODE = /^(GIR 0AA|[A-PR-UWYZ][A-HK-Y]?[0-9][0-9A-HJKMNPR-Y]? [0-9][ABD-HJLNP-UW-Z]{2})$/;

/** Upper case, one space before the inward code: "sw1a1aa" and " SW1A  1AA" become "SW1A 1AA". */
export const normalizePostcode = (value: string): string => {
  const compact = value.replace(/\s+/g, '').toUpperCase();
  return compact.length > 3 ? `${compact.slice(0, -3)} ${compact.slice(-3)}` : compact;
};

/**
 * National Insurance number (HMRC): two prefix letters (not D, F, I, Q, U or V; O not second; not BG, GB, KN, NK,
 * NT, TN or ZZ), six digits and a suffix A to D.
 */
export const NI_NUMBER = /^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$/;

/** A UK bank sort code: six digits, written with or without dashes. */
export const SORT_CODE = /^[0-9]{2}-?[0-9]{2}-?[0-9]{2}$/;
