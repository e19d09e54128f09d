import type { Region } from './rates.ts';

/**
 * A PAYE tax code: an optional S (Scottish) or C (Welsh) prefix, then a number with a suffix (1257L), a K code
 * (K585: pay to add), or a fixed code (BR, D0, D1, D2 and D3 for Scotland, NT, 0T); W1, M1 or X after it means the
 * week 1 / month 1 (non-cumulative) basis.
 */
export type TaxCodeKind = 'ALLOWANCE' | 'K' | 'BR' | 'D' | 'NT';

export interface TaxCode {
  text: string;
  region: Region;
  kind: TaxCodeKind;
  /** The code number (1257 of 1257L, 585 of K585; 0 for 0T); for D codes, the digit (D0 → 0). */
  number: number;
  nonCumulative: boolean;
}

export class InvalidTaxCode extends Error {}

const CODE = /^(S|C)?(?:(\d{1,4})([LMNT])|K(\d{1,4})|(BR)|D([0-3])|(NT)|(0T))(?:\s*(W1|M1|X))?$/;

export function parseTaxCode(raw: string, week1Month1 = false): TaxCode {
  const text = raw.trim().toUpperCase().replace(/\s+/g, ' ');
  const m = CODE.exec(text.replace(/ (W1|M1|X)$/, '$1'));
  if (!m) throw new InvalidTaxCode(`"${raw}" is not a PAYE tax code (such as 1257L, K475, BR, D0, NT, S1257L or C1257L)`);
  const [, prefix, num, , k, br, d, nt, zeroT, basis] = m;
  const region: Region = prefix === 'S' ? 'SCOTLAND' : prefix === 'C' ? 'WALES' : 'rUK';
  if (d !== undefined && Number(d) > 1 && region !== 'SCOTLAND') throw new InvalidTaxCode(`"${raw}": D${d} exists only with the S prefix`);
  const nonCumulative = week1Month1 || basis !== undefined;
  if (num !== undefined) {
    if (Number(num) === 0 && !zeroT) return { text, region, kind: 'ALLOWANCE', number: 0, nonCumulative };
    return { text, region, kind: 'ALLOWANCE', number: Number(num), nonCumulative };
  }
  if (k !== undefined) return { text, region, kind: 'K', number: Number(k), nonCumulative };
  if (br) return { text, region, kind: 'BR', number: 0, nonCumulative };
  if (d !== undefined) return { text, region, kind: 'D', number: Number(d), nonCumulative };
  if (nt) return { text, region, kind: 'NT', number: 0, nonCumulative };
  return { text, region, kind: 'ALLOWANCE', number: 0, nonCumulative }; // 0T: no allowance, the bands as usual
}
