/**
 * Deterministic resident-like records. A seeded PRNG and fixed base dates keep
 * every run identical, so tests and demos can assert on concrete values.
 */

export const DEFAULT_RECORD_COUNT = 237;

const FIRST_NAMES = [
  'Agnes', 'Albert', 'Beryl', 'Cyril', 'Doris', 'Edna', 'Ernest', 'Florence', 'Frank', 'Gladys',
  'Harold', 'Irene', 'Jean', 'Kenneth', 'Lilian', 'Margaret', 'Norman', 'Olive', 'Peggy', 'Ronald',
  'Sylvia', 'Stanley', 'Vera', 'Walter', 'Winifred',
];
const LAST_NAMES = [
  'Smith', 'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Johnson', 'Davies', 'Robinson', 'Wright',
  'Thompson', 'Evans', 'Walker', 'White', 'Roberts', 'Green', 'Hall', 'Wood', 'Jackson', 'Clarke',
];

/** mulberry32: tiny, fast, good enough for fixture data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY_MS = 86_400_000;
const ADMISSIONS_START = Date.UTC(2015, 0, 1);
const UPDATES_START = Date.UTC(2024, 0, 1);

export function generateResidents(count = DEFAULT_RECORD_COUNT, seed = 20240101): Array<Record<string, unknown>> {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const out: Array<Record<string, unknown>> = [];
  for (let i = 1; i <= count; i++) {
    const admitted = ADMISSIONS_START + Math.floor(rand() * 3000) * DAY_MS;
    const updated = UPDATES_START + Math.floor(rand() * 600 * DAY_MS);
    out.push({
      // Zero-padded so lexical order == numeric order == the API's stable order.
      id: `res-${String(i).padStart(4, '0')}`,
      firstName: pick(FIRST_NAMES),
      lastName: pick(LAST_NAMES),
      roomNumber: `${1 + Math.floor(rand() * 3)}${String(1 + Math.floor(rand() * 40)).padStart(2, '0')}`,
      admittedOn: new Date(admitted).toISOString().slice(0, 10),
      updatedAt: new Date(updated).toISOString(),
    });
  }
  return out;
}

/** Sort key for the API's stable order: numeric ids numerically, everything else as strings. */
export function compareIds(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Copies and sorts caller-supplied records; every record needs an `id`. */
export function prepareRecords(records: Array<Record<string, unknown>> | undefined): Array<Record<string, unknown>> {
  const list = records ? records.map((r) => ({ ...r })) : generateResidents();
  for (const r of list) {
    if (r.id === undefined || r.id === null) throw new Error('simulator records must each have an id');
  }
  const ids = new Set(list.map((r) => String(r.id)));
  if (ids.size !== list.length) throw new Error('simulator record ids must be unique');
  return list.sort((a, b) => compareIds(a.id, b.id));
}
