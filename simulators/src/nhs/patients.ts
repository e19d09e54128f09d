import jsonpatch, { type Operation } from 'fast-json-patch';
import { clone, sandbox, type Json, type JsonObject } from './fixtures.ts';
import { isValidNhsNumber, syntheticNhsNumbers } from './nhs-number.ts';
import { FhirError } from './outcome.ts';

/**
 * The simulator's PDS patient store: the sandbox patients plus deterministic synthetic ones, with real matching
 * for search and JSON Patch updates with versioning. Restricted patients are held (and served) in their
 * restricted form; their withheld telecom is kept aside so email/phone searches can still match them.
 */

export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const DEATH_NOTIFICATION_URL = 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus';
const RESTRICTED_FIELDS = ['address', 'telecom', 'contact', 'generalPractitioner'] as const;

interface StoredPatient {
  resource: JsonObject;
  restricted: boolean;
  /** Withheld location-sensitive telecom of a restricted patient: matched by search, never returned. */
  hiddenTelecom: JsonObject[];
}

export interface PatientSummary {
  nhsNumber: string;
  given: string[];
  family: string;
  gender: string;
  birthDate: string;
  postalCode: string;
}

// ---------- synthetic patients ----------

const FEMALE = ['Margaret', 'Dorothy', 'Joan', 'Betty', 'Patricia', 'Irene', 'Eileen', 'Doreen', 'Sheila', 'Maureen', 'Audrey', 'Elsie'];
const MALE = ['Arthur', 'Albert', 'Harold', 'Kenneth', 'Ronald', 'Stanley', 'Dennis', 'Leonard', 'Frederick', 'Ernest', 'Walter', 'Norman'];
const FAMILY = [
  'Thompson', 'Ashworth', 'Bradshaw', 'Whitaker', 'Pemberton', 'Hargreaves', 'Sutcliffe', 'Holroyd', 'Ackroyd', 'Barraclough',
  'Clegg', 'Dawson', 'Earnshaw', 'Fairbairn', 'Greenwood', 'Haigh', 'Illingworth', 'Jagger', 'Kershaw', 'Lumb', 'Mitchell',
  'Naylor', 'Oldroyd', 'Priestley', 'Rhodes', 'Shackleton', 'Townend', 'Utley', 'Varley', 'Wainwright',
];
const PLACES: Array<[string, string, string]> = [
  ['LS6 2AB', 'Headingley', 'Leeds'],
  ['LS16 5PT', 'Adel', 'Leeds'],
  ['BD9 4RH', 'Heaton', 'Bradford'],
  ['HX3 6SN', 'Southowram', 'Halifax'],
  ['HD8 0LE', 'Kirkburton', 'Huddersfield'],
  ['WF4 3JY', 'Horbury', 'Wakefield'],
  ['YO24 1AX', 'Dringhouses', 'York'],
  ['HG2 8PB', 'Oatlands', 'Harrogate'],
  ['S10 3GD', 'Broomhill', 'Sheffield'],
  ['M20 2RN', 'Didsbury', 'Manchester'],
];

function syntheticPatient(nhs: string, i: number): JsonObject {
  const p = clone(sandbox.patient);
  const female = i % 2 === 0;
  const given = (female ? FEMALE : MALE)[Math.floor(i / 2) % 12]!;
  const family = FAMILY[(i * 7) % FAMILY.length]!;
  const [postalCode, district, town] = PLACES[(i * 3) % PLACES.length]!;
  // Care-home age range: born 1925-1949, deterministic day of year.
  const year = 1925 + ((i * 11) % 25);
  const month = 1 + ((i * 5) % 12);
  const day = 1 + ((i * 13) % 28);
  const birthDate = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  p.id = nhs;
  ((p.identifier as JsonObject[])[0]!).value = nhs;
  p.meta = { versionId: '1', security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'U', display: 'unrestricted' }] };
  p.name = [{ id: `N${i}`, use: 'usual', period: { start: '2020-01-01' }, given: [given], family, prefix: [female ? 'Mrs' : 'Mr'] }];
  p.gender = female ? 'female' : 'male';
  p.birthDate = birthDate;
  delete p.deceasedDateTime;
  p.extension = (p.extension as JsonObject[]).filter((e) => e.url !== DEATH_NOTIFICATION_URL);
  p.address = [
    { id: `A${i}`, period: { start: '2020-01-01' }, use: 'home', line: [`${(i % 90) + 1} Church Lane`, district, town], postalCode },
  ];
  p.telecom = [
    { id: `T${i}`, period: { start: '2020-01-01' }, system: 'phone', value: `0113496${String(i % 10000).padStart(4, '0')}`, use: 'home' },
    { id: `E${i}`, period: { start: '2020-01-01' }, system: 'email', value: `${given}.${family}${i}@example.com`.toLowerCase(), use: 'home' },
  ];
  return p;
}

function initialPatients(synthetic: number): Map<string, StoredPatient> {
  const store = new Map<string, StoredPatient>();
  const add = (resource: JsonObject, restricted = false, hiddenTelecom: JsonObject[] = []): void => {
    store.set(resource.id as string, { resource: clone(resource), restricted, hiddenTelecom });
  };
  add(sandbox.patient);
  add(sandbox.jayneSmyth);
  // The sandbox's "restricted patient search" matches on this email and phone, which the record then withholds.
  add(sandbox.sensitivePatient, true, [
    { system: 'phone', value: '01632960587', use: 'home' },
    { system: 'email', value: 'janet.smythe@example.com', use: 'home' },
  ]);
  add(sandbox.minimalPatient);
  syntheticNhsNumbers(synthetic).forEach((nhs, i) => add(syntheticPatient(nhs, i)));
  return store;
}

// ---------- search parameters ----------

const SEARCH_PARAMS = new Set([
  '_fuzzy-match', '_exact-match', '_history', '_max-results', 'family', 'given', 'gender', 'birthdate', 'death-date',
  'address-postalcode', 'address-postcode', 'general-practitioner', 'email', 'phone',
]);
const GENDERS = new Set(['male', 'female', 'other', 'unknown']);
const DEFAULT_MAX_RESULTS = 50;

interface DateBound {
  op: 'eq' | 'ge' | 'le';
  date: string;
}

interface SearchQuery {
  fuzzy: boolean;
  exact: boolean;
  history: boolean;
  maxResults: number;
  family?: string;
  given: string[];
  gender?: string;
  birthdate: DateBound[];
  deathDate: DateBound[];
  postcode?: string;
  gp?: string;
  email?: string;
  phone?: string;
}

const invalidValue = (value: string, field: string): FhirError =>
  new FhirError(400, 'INVALID_VALUE', `Invalid value - '${value}' in field '${field}'`);

function parseBoolean(params: URLSearchParams, name: string): boolean {
  const v = params.get(name);
  if (v === null) return false;
  if (v !== 'true' && v !== 'false') throw invalidValue(v, name);
  return v === 'true';
}

function parseDates(values: string[], field: string): DateBound[] {
  return values.map((raw) => {
    const m = /^(eq|ge|le)?(\d{4}-\d{2}-\d{2})$/.exec(raw);
    if (!m || Number.isNaN(Date.parse(`${m[2]}T00:00:00Z`)) || new Date(`${m[2]}T00:00:00Z`).toISOString().slice(0, 10) !== m[2]) {
      throw invalidValue(raw, field);
    }
    return { op: (m[1] ?? 'eq') as DateBound['op'], date: m[2]! };
  });
}

function checkText(value: string, field: string, fuzzy: boolean): string {
  if (value.length === 0 || value.length > 35) throw invalidValue(value, field);
  const star = value.indexOf('*');
  if (star >= 0) {
    if (fuzzy) throw new FhirError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - wildcards are not allowed in '${field}' for a fuzzy search`);
    if (star < 2) throw new FhirError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - '${value}' in field '${field}': wildcards must not be in the first two characters`);
  }
  return value;
}

export function parseSearch(params: URLSearchParams): SearchQuery {
  const names = [...new Set(params.keys())];
  if (names.length === 0) throw new FhirError(400, 'UNSUPPORTED_SERVICE');
  for (const name of names) {
    if (!SEARCH_PARAMS.has(name)) throw new FhirError(400, 'ADDITIONAL_PROPERTIES', `Invalid search data provided - '${name}' is not a valid search parameter`);
    if (name !== 'given' && name !== 'birthdate' && params.getAll(name).length > 1) {
      throw new FhirError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - '${name}' must not be repeated`);
    }
  }
  if (params.has('address-postcode') && params.has('address-postalcode')) {
    throw new FhirError(400, 'INVALID_SEARCH_DATA', "Invalid search data provided - use either 'address-postalcode' or 'address-postcode', not both");
  }
  const fuzzy = parseBoolean(params, '_fuzzy-match');
  const q: SearchQuery = {
    fuzzy,
    exact: parseBoolean(params, '_exact-match'),
    history: parseBoolean(params, '_history') || fuzzy, // a fuzzy search always includes history
    maxResults: DEFAULT_MAX_RESULTS,
    given: params.getAll('given').map((g) => checkText(g, 'given', fuzzy)),
    birthdate: parseDates(params.getAll('birthdate'), 'birthdate'),
    deathDate: parseDates(params.getAll('death-date'), 'death-date'),
  };
  const max = params.get('_max-results');
  if (max !== null) {
    if (!/^\d+$/.test(max) || Number(max) < 1 || Number(max) > 50) throw invalidValue(max, '_max-results');
    q.maxResults = Number(max);
  }
  const family = params.get('family');
  if (family !== null) q.family = checkText(family, 'family', fuzzy);
  const gender = params.get('gender');
  if (gender !== null) {
    if (!GENDERS.has(gender)) throw invalidValue(gender, 'gender');
    q.gender = gender;
  }
  const postcode = params.get('address-postalcode') ?? params.get('address-postcode');
  if (postcode !== null) q.postcode = checkText(postcode, 'address-postalcode', fuzzy);
  const gp = params.get('general-practitioner');
  if (gp !== null) q.gp = gp;
  const email = params.get('email');
  if (email !== null) q.email = email;
  const phone = params.get('phone');
  if (phone !== null) q.phone = phone;
  if (q.birthdate.length > 2) throw new FhirError(400, 'INVALID_SEARCH_DATA', "Invalid search data provided - at most two 'birthdate' values (a range)");

  // Minimum parameter combinations (patient-search.yaml "Non-fuzzy search" / "Fuzzy search").
  if (q.birthdate.length === 0) {
    throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'birth_date/birth_date_range_start/birth_date_range_end'");
  }
  const enough = fuzzy
    ? (q.given.length > 0 && q.family !== undefined) ||
      (q.family !== undefined && q.gender !== undefined && q.postcode !== undefined) ||
      (q.given.length > 0 && q.gender !== undefined && q.postcode !== undefined)
    : q.family !== undefined;
  if (!enough) throw new FhirError(400, 'INVALID_SEARCH_DATA', 'Not enough search parameters were provided to be able to make a search');
  return q;
}

// ---------- matching ----------

/** How a parameter matched: exact, via wildcard, via history, or via fuzzy rules. Each non-exact kind costs score. */
type MatchKind = 'exact' | 'wildcard' | 'history' | 'fuzzy';
const PENALTY: Record<MatchKind, number> = { exact: 0, wildcard: 0.05, history: 0.1, fuzzy: 0.15 };

const norm = (s: string): string => s.trim().toLowerCase();

function wildcardMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${norm(pattern).split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(norm(value));
}

/** American Soundex, as PDS fuzzy search uses for homophones (Smith ~ Smythe). */
export function soundex(name: string): string {
  const s = name.toUpperCase().replace(/[^A-Z]/g, '');
  if (!s) return '';
  const codes: Record<string, string> = {};
  for (const [letters, digit] of [['BFPV', '1'], ['CGJKQSXZ', '2'], ['DT', '3'], ['L', '4'], ['MN', '5'], ['R', '6']] as const) {
    for (const l of letters) codes[l] = digit;
  }
  let out = s[0]!;
  let last = codes[s[0]!] ?? '';
  for (const ch of s.slice(1)) {
    const code = codes[ch] ?? '';
    if (code && code !== last) out += code;
    if (ch !== 'H' && ch !== 'W') last = code;
    if (out.length === 4) break;
  }
  return out.padEnd(4, '0');
}

function textMatch(query: string, value: string | undefined, fuzzy: boolean): MatchKind | undefined {
  if (value === undefined) return undefined;
  if (norm(query) === norm(value)) return 'exact';
  if (query.includes('*')) return wildcardMatch(query, value) ? 'wildcard' : undefined;
  if (fuzzy && soundex(query) === soundex(value)) return 'fuzzy';
  return undefined;
}

function dateMatch(bounds: DateBound[], value: string | undefined): boolean {
  if (value === undefined) return false;
  const d = value.slice(0, 10);
  return bounds.every((b) => (b.op === 'eq' ? d === b.date : b.op === 'ge' ? d >= b.date : d <= b.date));
}

const worst = (kinds: MatchKind[]): number => kinds.reduce((sum, k) => sum + PENALTY[k], 0);

interface NameMatch {
  kinds: MatchKind[];
}

function matchName(q: SearchQuery, name: JsonObject, historic: boolean): NameMatch | undefined {
  const given = ((name.given as string[] | undefined) ?? []).filter((g) => typeof g === 'string');
  const family = name.family as string | undefined;
  const tryOrder = (fam: string | undefined, giv: string[], transposed: boolean): NameMatch | undefined => {
    const kinds: MatchKind[] = [];
    if (q.family !== undefined) {
      const k = textMatch(q.family, fam, q.fuzzy);
      if (!k) return undefined;
      kinds.push(k);
    }
    for (let i = 0; i < q.given.length; i += 1) {
      const k = textMatch(q.given[i]!, giv[i], q.fuzzy);
      if (!k) return undefined;
      kinds.push(k);
    }
    if (transposed) kinds.push('fuzzy');
    if (historic) kinds.push('history');
    return { kinds };
  };
  const direct = tryOrder(family, given, false);
  if (direct) return direct;
  // Fuzzy search also catches transposed names (Adam Thomas ~ Thomas Adam).
  if (q.fuzzy && q.given.length === 1 && q.family !== undefined && given[0] !== undefined && family !== undefined) {
    return tryOrder(given[0], [family], true);
  }
  return undefined;
}

function scorePatient(q: SearchQuery, p: StoredPatient): number | undefined {
  const r = p.resource;
  const kinds: MatchKind[] = [];
  // Names: usual, nickname and temporary are current; anything else (old, maiden...) only with history.
  const names = (r.name as JsonObject[] | undefined) ?? [];
  if (q.family !== undefined || q.given.length > 0) {
    const candidates = names
      .map((n) => {
        const use = (n.use as string | undefined) ?? 'usual';
        const historic = !['usual', 'nickname', 'temp'].includes(use);
        if (historic && !q.history) return undefined;
        return matchName(q, n, historic);
      })
      .filter((m): m is NameMatch => m !== undefined)
      .sort((a, b) => worst(a.kinds) - worst(b.kinds));
    if (candidates.length === 0) return undefined;
    kinds.push(...candidates[0]!.kinds);
  }
  if (q.gender !== undefined) {
    if (r.gender !== q.gender) return undefined;
    kinds.push('exact');
  }
  if (!dateMatch(q.birthdate, r.birthDate as string | undefined)) return undefined;
  let penalty = 0;
  if (q.deathDate.length > 0 && !dateMatch(q.deathDate, r.deceasedDateTime as string | undefined)) {
    if (!q.fuzzy) return undefined;
    penalty += 0.1; // fuzzy: not used for matching, but a mismatch lowers the score
  }
  if (q.postcode !== undefined) {
    if (p.restricted) return undefined; // restricted patients are never found by postcode or GP
    const want = q.postcode.replace(/\s+/g, '');
    const addresses = ((r.address as JsonObject[] | undefined) ?? []).filter((a) => q.history || (a.use ?? 'home') === 'home');
    const hit = addresses
      .map((a) => textMatch(want, String(a.postalCode ?? '').replace(/\s+/g, ''), false))
      .filter((k): k is MatchKind => k !== undefined)
      .sort((a, b) => PENALTY[a] - PENALTY[b])[0];
    if (!hit) return undefined;
    kinds.push(hit);
  }
  if (q.gp !== undefined) {
    if (p.restricted) return undefined;
    const gps = ((r.generalPractitioner as JsonObject[] | undefined) ?? []).map((g) => String((g.identifier as JsonObject | undefined)?.value ?? ''));
    if (!gps.some((g) => norm(g) === norm(q.gp!))) {
      if (!q.fuzzy) return undefined;
      penalty += 0.1;
    }
  }
  const telecom = [...((r.telecom as JsonObject[] | undefined) ?? []), ...p.hiddenTelecom];
  if (q.email !== undefined && !telecom.some((t) => t.system === 'email' && norm(String(t.value)) === norm(q.email!))) return undefined;
  if (q.phone !== undefined && !telecom.some((t) => t.system === 'phone' && String(t.value).replace(/\s+/g, '') === q.phone!.replace(/\s+/g, ''))) {
    return undefined;
  }
  // A range of birth dates is by nature not an exact match.
  if (q.birthdate.some((b) => b.op !== 'eq')) penalty += 0.05;
  const score = Math.max(0.5, 1 - worst(kinds) - penalty);
  return Math.round(score * 100) / 100;
}

/** What a search returns of a patient (patient-search.yaml "Patient data returned"). */
function searchView(p: StoredPatient): JsonObject {
  const r = clone(p.resource);
  delete r.managingOrganization;
  if (Array.isArray(r.name)) r.name = (r.name as JsonObject[]).filter((n) => ['usual', 'nickname', 'temp'].includes(String(n.use ?? 'usual')));
  if (Array.isArray(r.address)) r.address = (r.address as JsonObject[]).filter((a) => (a.use ?? 'home') === 'home');
  if (Array.isArray(r.extension)) r.extension = (r.extension as JsonObject[]).filter((e) => e.url === DEATH_NOTIFICATION_URL);
  if (p.restricted) for (const f of RESTRICTED_FIELDS) delete r[f];
  // Drop emptied lists so the shape matches the sandbox (absent, not []).
  for (const key of ['name', 'address', 'extension'] as const) if (Array.isArray(r[key]) && (r[key] as Json[]).length === 0) delete r[key];
  return r;
}

// ---------- the store ----------

export type SearchOutcome = { kind: 'matches'; entries: Array<{ resource: JsonObject; score: number }> } | { kind: 'too_many' };

const PATCH_OPS = new Set(['add', 'replace', 'remove', 'test']);
/** Top-level Patient fields PDS lets a patch touch (healthcare worker access). */
const UPDATABLE = new Set([
  'name', 'gender', 'birthDate', 'deceasedDateTime', 'multipleBirthInteger', 'address', 'telecom', 'contact',
  'generalPractitioner', 'managingOrganization', 'extension',
]);
const READ_ONLY = new Set(['id', 'identifier', 'meta', 'resourceType']);
const LISTS = new Set(['name', 'address', 'telecom', 'contact', 'generalPractitioner', 'extension']);

export class PatientStore {
  private patients: Map<string, StoredPatient>;

  constructor(private readonly synthetic: number) {
    this.patients = initialPatients(synthetic);
  }

  reset(): void {
    this.patients = initialPatients(this.synthetic);
  }

  has(nhs: string): boolean {
    return this.patients.has(nhs);
  }

  /** Every patient's NHS number, in the order they were added. */
  nhsNumbers(): string[] {
    return [...this.patients.keys()];
  }

  isRestricted(nhs: string): boolean {
    return this.patients.get(nhs)?.restricted === true;
  }

  /** 400 INVALID_RESOURCE_ID for a bad NHS number, 404 RESOURCE_NOT_FOUND for an unknown one. */
  require(nhs: string): JsonObject {
    if (!isValidNhsNumber(nhs)) throw new FhirError(400, 'INVALID_RESOURCE_ID');
    const p = this.patients.get(nhs);
    if (!p) throw new FhirError(404, 'RESOURCE_NOT_FOUND');
    return clone(p.resource);
  }

  summary(nhs: string): PatientSummary | undefined {
    const r = this.patients.get(nhs)?.resource;
    if (!r) return undefined;
    const name = ((r.name as JsonObject[] | undefined) ?? [])[0];
    const address = ((r.address as JsonObject[] | undefined) ?? [])[0];
    return {
      nhsNumber: nhs,
      given: ((name?.given as string[] | undefined) ?? []).slice(),
      family: String(name?.family ?? ''),
      gender: String(r.gender ?? 'unknown'),
      birthDate: String(r.birthDate ?? ''),
      postalCode: String(address?.postalCode ?? ''),
    };
  }

  search(q: SearchQuery): SearchOutcome {
    const entries: Array<{ resource: JsonObject; score: number }> = [];
    for (const p of this.patients.values()) {
      const score = scorePatient(q, p);
      if (score === undefined || (q.exact && score < 1)) continue;
      entries.push({ resource: searchView(p), score });
    }
    if (entries.length > q.maxResults) return { kind: 'too_many' };
    entries.sort((a, b) => b.score - a.score || String(a.resource.id).localeCompare(String(b.resource.id)));
    return { kind: 'matches', entries };
  }

  /** Applies a PDS JSON Patch body after the version check; returns the updated resource. */
  patch(nhs: string, ifMatch: string | undefined, body: unknown): JsonObject {
    const current = this.require(nhs);
    const stored = this.patients.get(nhs)!;
    if (ifMatch === undefined || ifMatch === '') {
      throw new FhirError(412, 'PRECONDITION_FAILED', 'Invalid request with error - If-Match header must be supplied to update this resource');
    }
    const m = /^W\/"(\d+)"$/.exec(ifMatch);
    if (!m) throw new FhirError(412, 'PRECONDITION_FAILED', `Invalid request with error - If-Match header must be in the form W/"<version>", got '${ifMatch}'`);
    const version = Number((current.meta as JsonObject).versionId);
    if (Number(m[1]) !== version) throw new FhirError(409, 'RESOURCE_VERSION_MISMATCH');
    if (stored.restricted) {
      throw new FhirError(403, 'FORBIDDEN_UPDATE', 'Forbidden update with error - updating a restricted (sensitive) patient is only permitted from certain systems');
    }

    const patches = validatePatchBody(body);
    const hadGender = current.gender !== undefined;
    const updated = current; // a private clone: a failed patch leaves the store untouched
    try {
      jsonpatch.applyPatch(updated, patches, true, true, true);
    } catch (err) {
      const name = err instanceof jsonpatch.JsonPatchError ? err.name : 'INVALID_PATCH';
      const detail = name === 'TEST_OPERATION_FAILED' ? 'test operation failed' : err instanceof Error ? err.message.split('\n')[0]! : String(err);
      throw new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - ${detail}`);
    }
    if (updated.gender === undefined && hadGender) {
      throw new FhirError(400, 'INVALID_UPDATE', "Invalid update with error - 'gender' cannot be removed");
    }
    if (updated.gender !== undefined && !GENDERS.has(String(updated.gender))) throw invalidValue(String(updated.gender), 'gender');
    if (updated.birthDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(String(updated.birthDate))) throw invalidValue(String(updated.birthDate), 'birthDate');

    const meta = updated.meta as JsonObject;
    meta.versionId = String(version + 1);
    stored.resource = clone(updated);
    return updated;
  }
}

function validatePatchBody(body: unknown): Operation[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new FhirError(400, 'INVALID_UPDATE', 'Invalid update with error - body must be a JSON object with a "patches" list');
  }
  const extra = Object.keys(body).filter((k) => k !== 'patches');
  if (extra.length > 0) throw new FhirError(400, 'ADDITIONAL_PROPERTIES', `Additional properties are not allowed ('${extra.join("', '")}' were unexpected)`);
  const patches = (body as { patches?: unknown }).patches;
  if (!Array.isArray(patches) || patches.length === 0) throw new FhirError(400, 'INVALID_UPDATE', 'Invalid update with error - No patches found');
  const ops = patches as Array<Record<string, unknown>>;
  ops.forEach((op, i) => {
    if (typeof op !== 'object' || op === null || Array.isArray(op)) throw new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - patch ${i} is not an object`);
    if (typeof op.op !== 'string' || !PATCH_OPS.has(op.op)) {
      throw new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - patch ${i}: op must be one of add, replace, remove, test`);
    }
    if (typeof op.path !== 'string' || !op.path.startsWith('/')) throw new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - patch ${i}: path must be a JSON pointer`);
    if (op.op === 'remove' ? 'value' in op : !('value' in op)) {
      throw new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - patch ${i}: 'value' is ${op.op === 'remove' ? 'not allowed' : 'required'} for ${op.op}`);
    }
    const [field, index, ...rest] = op.path.slice(1).split('/');
    if (READ_ONLY.has(field!)) throw new FhirError(403, 'FORBIDDEN_UPDATE', `Forbidden update with error - '${field}' cannot be updated`);
    if (!UPDATABLE.has(field!)) throw new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - Update unsupported for resource - '${field}'`);
    // Base-level list items are added at '-' only: PDS decides the order.
    if (op.op === 'add' && LISTS.has(field!) && index !== undefined && rest.length === 0 && index !== '-') {
      throw new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - new '${field}' items must be added at '/${field}/-'`);
    }
    // Removing a list item must be immediately preceded by a test of that item (its id, url or whole object).
    if (op.op === 'remove' && LISTS.has(field!) && index !== undefined && rest.length === 0) {
      const prev = ops[i - 1];
      const prefix = `/${field}/${index}`;
      if (!prev || prev.op !== 'test' || typeof prev.path !== 'string' || !(prev.path === prefix || prev.path.startsWith(`${prefix}/`))) {
        throw new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - removing '${prefix}' must be immediately preceded by a test operation on it`);
      }
    }
  });
  return ops as unknown as Operation[];
}
