import type { JsonObject } from './fixtures.ts';
import { NHS_NUMBER_SYSTEM, type PatientSummary } from './patients.ts';

/**
 * Simulated Summary Care Record and EPS (Prescriptions for Patients) content. No public spec for these is held
 * in the repo, so the shapes are plain FHIR R4, deterministic per NHS number. SNOMED CT / dm+d codes are
 * illustrative.
 */

const SNOMED = 'http://snomed.info/sct';

interface Drug {
  code: string;
  display: string;
  dose: string;
  quantity: number;
  unit: string;
}

const DRUGS: Drug[] = [
  { code: '39720311000001101', display: 'Paracetamol 500mg soluble tablets', dose: 'Two tablets up to four times a day', quantity: 100, unit: 'tablet' },
  { code: '39113611000001102', display: 'Salbutamol 100micrograms/dose inhaler CFC free', dose: 'One or two puffs when required', quantity: 1, unit: 'inhaler' },
  { code: '319775004', display: 'Aspirin 75mg gastro-resistant tablets', dose: 'One tablet once a day', quantity: 28, unit: 'tablet' },
  { code: '317896006', display: 'Digoxin 125microgram tablets', dose: 'One tablet once a day in the morning', quantity: 28, unit: 'tablet' },
  { code: '320000009', display: 'Simvastatin 40mg tablets', dose: 'One tablet at night', quantity: 28, unit: 'tablet' },
  { code: '322236009', display: 'Paracetamol 500mg tablets', dose: 'One or two tablets every 4-6 hours, max 8 in 24 hours', quantity: 32, unit: 'tablet' },
];

interface Allergen {
  code: string;
  display: string;
  reaction: string;
  reactionCode: string;
}

const ALLERGENS: Allergen[] = [
  { code: '764146007', display: 'Penicillin', reaction: 'Urticaria', reactionCode: '126485001' },
  { code: '91935009', display: 'Peanut', reaction: 'Anaphylaxis', reactionCode: '39579001' },
  { code: '387207008', display: 'Ibuprofen', reaction: 'Bronchospasm', reactionCode: '4386001' },
];

const ADVERSE: Allergen[] = [
  { code: '372756006', display: 'Warfarin', reaction: 'Haemorrhage', reactionCode: '131148009' },
  { code: '373529000', display: 'Morphine', reaction: 'Nausea and vomiting', reactionCode: '16932000' },
  { code: '372687004', display: 'Amoxicillin', reaction: 'Diarrhoea', reactionCode: '62315008' },
];

/** Small deterministic hash so each patient gets a stable, different record. */
function seed(nhs: string): number {
  let h = 0;
  for (const ch of nhs) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

const patientRef = (nhs: string): JsonObject => ({ identifier: { system: NHS_NUMBER_SYSTEM, value: nhs } });
const coding = (code: string, display: string): JsonObject => ({ coding: [{ system: SNOMED, code, display }] });

function allergy(nhs: string, id: string, a: Allergen, adverse: boolean, recorded: string): JsonObject {
  return {
    resourceType: 'AllergyIntolerance',
    id,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed' }] },
    // An adverse drug reaction is a non-allergic intolerance; SNOMED 281647001 "Adverse reaction".
    type: adverse ? 'intolerance' : 'allergy',
    category: [adverse ? 'medication' : a.code === '91935009' ? 'food' : 'medication'],
    criticality: adverse ? 'low' : 'high',
    code: adverse
      ? { coding: [{ system: SNOMED, code: a.code, display: a.display }, { system: SNOMED, code: '281647001', display: 'Adverse reaction' }] }
      : coding(a.code, a.display),
    patient: patientRef(nhs),
    recordedDate: recorded,
    reaction: [{ substance: coding(a.code, a.display), manifestation: [coding(a.reactionCode, a.reaction)], severity: adverse ? 'mild' : 'severe' }],
  };
}

export interface ScrContent {
  allergies: number;
  adverseReactions: number;
  medications: number;
}

/** The SCR for a patient, or an empty searchset when the patient has none. */
export function scrBundle(baseUrl: string, p: PatientSummary, withRecord: boolean, timestamp: string): JsonObject {
  if (!withRecord) return { resourceType: 'Bundle', type: 'searchset', timestamp, total: 0, entry: [] };
  const s = seed(p.nhsNumber);
  const nhs = p.nhsNumber;
  const composed = `20${String(20 + (s % 5))}-0${1 + (s % 9)}-1${s % 9}`;
  const allergies = [allergy(nhs, `${nhs}-ALG-1`, ALLERGENS[s % ALLERGENS.length]!, false, composed)];
  const adverse = [allergy(nhs, `${nhs}-ADR-1`, ADVERSE[s % ADVERSE.length]!, true, composed)];
  const meds = [0, 1].map((k) => {
    const d = DRUGS[(s + k * 3) % DRUGS.length]!;
    return {
      resourceType: 'MedicationStatement',
      id: `${nhs}-MED-${k + 1}`,
      status: 'active',
      medicationCodeableConcept: coding(d.code, d.display),
      subject: patientRef(nhs),
      effectivePeriod: { start: composed },
      dateAsserted: composed,
      dosage: [{ text: d.dose }],
    } satisfies JsonObject;
  });
  const sections = [
    { title: 'Allergies and Adverse Reactions', code: coding('886921000000105', 'Allergies and adverse reactions'), entry: [...allergies, ...adverse].map((r) => ({ reference: `AllergyIntolerance/${r.id as string}` })) },
    { title: 'Medications', code: coding('933361000000108', 'Medications and medical devices'), entry: meds.map((m) => ({ reference: `MedicationStatement/${m.id}` })) },
  ];
  const composition: JsonObject = {
    resourceType: 'Composition',
    id: `${nhs}-SCR`,
    status: 'final',
    type: coding('196981000000101', 'General Practice Summary'),
    subject: patientRef(nhs),
    date: `${composed}T09:00:00+00:00`,
    author: [{ identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y12345' } }],
    title: 'Summary Care Record',
    section: sections,
  };
  const entry = (r: JsonObject, mode: 'match' | 'include'): JsonObject => ({
    fullUrl: `${baseUrl}/${r.resourceType as string}/${r.id as string}`,
    resource: r,
    search: { mode },
  });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp,
    total: 1,
    entry: [entry(composition, 'match'), ...allergies.map((r) => entry(r, 'include')), ...adverse.map((r) => entry(r, 'include')), ...meds.map((r) => entry(r, 'include'))],
  };
}

const STATUS_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/EPS-task-business-status';
const STATUSES: Array<[string, string, string]> = [
  ['0001', 'To be Dispensed', 'active'],
  ['0002', 'With Dispenser', 'active'],
  ['0003', 'With Dispenser - Active', 'active'],
  ['0006', 'Dispensed', 'completed'],
];

/** Prescription short-form id (XXXXXX-XXXXXX-XXXXXX) derived from the patient and item. */
function prescriptionId(nhs: string, k: number): string {
  const hex = (seed(`${nhs}:${k}`) * 2654435761 >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `${hex.slice(0, 6)}-A83008-${hex.slice(2, 7)}${'ABCDEFGHJK'[k % 10]}`;
}

/** EPS prescriptions for a patient as a searchset of MedicationRequests; empty when they have none. */
export function epsBundle(baseUrl: string, p: PatientSummary, withPrescriptions: boolean, timestamp: string): JsonObject {
  const entries: JsonObject[] = [];
  if (withPrescriptions) {
    const s = seed(p.nhsNumber);
    for (let k = 0; k < 3; k += 1) {
      const d = DRUGS[(s + k) % DRUGS.length]!;
      const [code, display, status] = STATUSES[(s + k) % STATUSES.length]!;
      const authored = `2025-0${1 + ((s + k) % 9)}-${String(10 + ((s + k * 7) % 18))}T10:30:00+00:00`;
      const id = `${p.nhsNumber}-RX-${k + 1}`;
      entries.push({
        fullUrl: `${baseUrl}/MedicationRequest/${id}`,
        search: { mode: 'match' },
        resource: {
          resourceType: 'MedicationRequest',
          id,
          extension: [
            {
              url: 'https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionStatusHistory',
              extension: [
                { url: 'status', valueCoding: { system: STATUS_SYSTEM, code, display } },
                { url: 'statusDate', valueDateTime: authored },
              ],
            },
          ],
          status,
          intent: 'order',
          groupIdentifier: { system: 'https://fhir.nhs.uk/Id/prescription-order-number', value: prescriptionId(p.nhsNumber, k) },
          medicationCodeableConcept: coding(d.code, d.display),
          subject: patientRef(p.nhsNumber),
          authoredOn: authored,
          requester: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y12345' } },
          dosageInstruction: [{ text: d.dose }],
          dispenseRequest: {
            quantity: { value: d.quantity, unit: d.unit, system: SNOMED, code: d.unit === 'tablet' ? '428673006' : '415818006' },
            performer: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'FA565' } },
          },
        },
      });
    }
  }
  return { resourceType: 'Bundle', type: 'searchset', timestamp, total: entries.length, entry: entries };
}
