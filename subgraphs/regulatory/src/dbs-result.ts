import { XMLParser } from 'fast-xml-parser';

/** The statuses the DBS Update Service's status check answers. */
export const DBS_STATUSES = ['NO_MATCH_FOUND', 'BLANK_NO_NEW_INFO', 'NON_BLANK_NO_NEW_INFO', 'NEW_INFO'] as const;
export type DbsStatus = (typeof DBS_STATUSES)[number];

export interface DbsStatusResult {
  resultType: string | null;
  status: DbsStatus;
  forename: string | null;
  surname: string | null;
  /** YYYY-MM-DD: when the certificate was printed. */
  printDate: string | null;
}

const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true, processEntities: true });

/**
 * Reads a `<statusCheckResult>` answer. Throws (with what was wrong) for anything else: a status the hub does not
 * know is never taken for "no new information".
 */
export function parseStatusCheck(xml: string): DbsStatusResult {
  let doc: Record<string, any>;
  try {
    doc = parser.parse(xml);
  } catch (err) {
    throw new Error(`the answer is not XML (${(err as Error).message})`);
  }
  const r = doc?.statusCheckResult;
  if (!r || typeof r !== 'object') throw new Error('the answer has no <statusCheckResult>');
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : v && typeof v === 'object' && typeof (v as any)['#text'] === 'string' ? (v as any)['#text'] : null);
  const status = text(r.status);
  if (!status || !(DBS_STATUSES as readonly string[]).includes(status)) throw new Error(`the answer's status ${status === null ? 'is missing' : `"${status}" is not one the Update Service gives`}`);
  const printDate = text(r.printDate);
  return {
    resultType: text(r.statusCheckResultType),
    status: status as DbsStatus,
    forename: text(r.forename),
    surname: text(r.surname),
    printDate: printDate && /^\d{4}-\d{2}-\d{2}$/.test(printDate) ? printDate : null,
  };
}

/** YYYY-MM-DD as the Update Service takes a date of birth: DD/MM/YYYY. */
export const dbsDate = (iso: string) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
