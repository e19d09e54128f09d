/** What the hub reads out of a CQC location record (the public API v1 shape), and what a new copy changed. */

export type CqcRecord = Record<string, any>;

export interface KeyQuestionRating {
  name: string;
  rating: string | null;
  reportDate: string | null;
}

export interface LocationSummary {
  locationId: string;
  providerId: string | null;
  name: string | null;
  registrationStatus: string | null;
  overallRating: string | null;
  ratingReportDate: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

export function summarise(r: CqcRecord): LocationSummary {
  return {
    locationId: String(r.locationId),
    providerId: str(r.providerId),
    name: str(r.name),
    registrationStatus: str(r.registrationStatus),
    overallRating: str(r.currentRatings?.overall?.rating),
    ratingReportDate: str(r.currentRatings?.overall?.reportDate) ?? str(r.currentRatings?.reportDate),
  };
}

export function keyQuestionRatings(r: CqcRecord): KeyQuestionRating[] {
  const list = r.currentRatings?.overall?.keyQuestionRatings;
  if (!Array.isArray(list)) return [];
  return list.filter((k) => k && typeof k.name === 'string').map((k) => ({ name: k.name, rating: str(k.rating), reportDate: str(k.reportDate) }));
}

export interface RatingChange {
  previous: { overall: string | null; keyQuestions: Record<string, string | null> };
  current: { overall: string | null; keyQuestions: Record<string, string | null> };
  reportDate: string | null;
}

export interface RegistrationChange {
  previous: string | null;
  current: string | null;
  deregistrationDate: string | null;
}

const byName = (ks: KeyQuestionRating[]) => Object.fromEntries(ks.map((k) => [k.name, k.rating]));

/**
 * What changed between the copy the hub held and the one CQC answers now: the overall or any key question's rating,
 * and the registration status. Nothing for a first copy (there is nothing it changed from).
 */
export function changesBetween(before: CqcRecord | undefined, after: CqcRecord): { rating?: RatingChange; registration?: RegistrationChange } {
  if (!before) return {};
  const out: { rating?: RatingChange; registration?: RegistrationChange } = {};
  const was = { overall: summarise(before).overallRating, keyQuestions: byName(keyQuestionRatings(before)) };
  const now = { overall: summarise(after).overallRating, keyQuestions: byName(keyQuestionRatings(after)) };
  const names = new Set([...Object.keys(was.keyQuestions), ...Object.keys(now.keyQuestions)]);
  if (was.overall !== now.overall || [...names].some((n) => (was.keyQuestions[n] ?? null) !== (now.keyQuestions[n] ?? null))) {
    out.rating = { previous: was, current: now, reportDate: summarise(after).ratingReportDate };
  }
  const reg = [summarise(before).registrationStatus, summarise(after).registrationStatus];
  if (reg[0] !== reg[1]) out.registration = { previous: reg[0]!, current: reg[1]!, deregistrationDate: str(after.deregistrationDate) };
  return out;
}
