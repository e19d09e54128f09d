/**
 * The simulated CQC register: providers and locations in the shapes of the CQC public API v1
 * (specs/regulatory/cqc/cqc-public-v1.schema.json), each location with the time it last changed, which is what
 * the change feed (`/changes/location`) answers from.
 */

export type CqcRecord = Record<string, unknown> & { locationId?: string; providerId?: string };

export interface SimLocation {
  record: CqcRecord & { locationId: string; providerId: string };
  changedAt: number;
}

export interface SimProvider {
  record: CqcRecord & { providerId: string; locationIds: string[] };
  changedAt: number;
}

const KEY_QUESTIONS = ['Safe', 'Effective', 'Caring', 'Responsive', 'Well-led'] as const;
export const RATINGS = ['Outstanding', 'Good', 'Requires improvement', 'Inadequate'] as const;

/** The demo provider and its locations: the first is the demo home's (`1-101234567`, see the care subgraph). */
export const DEMO_PROVIDER_ID = '1-101234560';
export const DEMO_LOCATION_IDS = ['1-101234567', '1-101234568', '1-101234569'];

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** A location record as `/locations/{id}` answers it. */
export function locationRecord(locationId: string, providerId: string, i: number, name?: string, rating: string = RATINGS[i % 3]!): SimLocation['record'] {
  const reportDate = `2025-${pad((i % 12) + 1, 2)}-${pad((i % 27) + 1, 2)}`;
  const linkId = `ab${pad(i, 6)}-0000-4000-8000-${pad(i, 12)}`;
  return {
    locationId,
    providerId,
    organisationType: 'Location',
    type: 'Social Care Org',
    name: name ?? `Simulated Care Home ${i}`,
    brandId: 'BD000',
    brandName: '-',
    careHome: 'Y',
    constituency: 'Leeds Central',
    deregistrationDate: null,
    dormancy: 'N',
    inspectionDirectorate: 'Adult social care',
    localAuthority: 'Leeds',
    mainPhoneNumber: `0113${pad(i % 10_000_000, 7)}`,
    numberOfBeds: 20 + (i % 60),
    odsCode: `VL${pad(i % 1000, 3)}`,
    onspdIcbCode: 'E54000054',
    onspdIcbName: 'NHS West Yorkshire Integrated Care Board',
    onspdLatitude: 53.8,
    onspdLongitude: -1.55,
    postalAddressCounty: 'West Yorkshire',
    postalAddressLine1: `${(i % 200) + 1} Example Road`,
    postalAddressLine2: null,
    postalAddressTownCity: 'Leeds',
    postalCode: `LS${(i % 28) + 1} ${(i % 9) + 1}AB`,
    region: 'Yorkshire and The Humber',
    registrationDate: '2015-04-01',
    registrationStatus: 'Registered',
    uprn: String(100_000_000 + i),
    website: null,
    currentRatings: {
      overall: {
        rating,
        reportDate,
        reportLinkId: linkId,
        keyQuestionRatings: KEY_QUESTIONS.map((name) => ({ name, rating, reportDate, reportLinkId: linkId })),
      },
      reportDate,
    },
    historicRatings: [],
    gacServiceTypes: [{ name: 'Care home service with nursing', description: 'Care home service with nursing' }],
    inspectionAreas: [],
    inspectionCategories: [{ code: 'S1', name: 'Residential social care', primary: 'true' }],
    lastInspection: { date: reportDate },
    lastReport: { publicationDate: reportDate },
    locationTypes: [],
    regulatedActivities: [
      {
        code: 'RA2',
        name: 'Accommodation for persons who require nursing or personal care',
        contacts: [{ personFamilyName: 'Registered', personGivenName: 'Manager', personRoles: ['Registered Manager'], personTitle: 'Ms' }],
      },
      { code: 'RA5', name: 'Treatment of disease, disorder or injury', contacts: [] },
    ],
    relationships: [],
    reports: [{ firstVisitDate: reportDate, linkId, reportDate, reportType: 'Location', reportUri: `/reports/${linkId}` }],
    specialisms: [{ name: 'Dementia' }, { name: 'Caring for adults over 65 yrs' }],
  };
}

export function providerRecord(providerId: string, locationIds: string[], name = 'Simulated Care Group Ltd'): SimProvider['record'] {
  return {
    providerId,
    locationIds,
    organisationType: 'Provider',
    ownershipType: 'Organisation',
    type: 'Independent Healthcare Org',
    name,
    companiesHouseNumber: '01234567',
    inspectionDirectorate: 'Adult social care',
    constituency: 'Leeds Central',
    localAuthority: 'Leeds',
    mainPhoneNumber: '01130000000',
    postalAddressLine1: '1 Example Road',
    postalAddressTownCity: 'Leeds',
    postalCode: 'LS1 1AA',
    region: 'Yorkshire and The Humber',
    registrationDate: '2015-04-01',
    registrationStatus: 'Registered',
    deregistrationDate: null,
    contacts: [],
    inspectionAreas: [],
    inspectionCategories: [{ code: 'P2', name: 'Social Care Org', primary: 'true' }],
    lastInspection: { date: '2025-01-15' },
    relationships: [],
    regulatedActivities: [
      {
        code: 'RA2',
        name: 'Accommodation for persons who require nursing or personal care',
        nominatedIndividual: { personFamilyName: 'Individual', personGivenName: 'Nominated', personTitle: 'Mr' },
      },
    ],
  };
}

/**
 * The demo register: the demo provider with its three locations, and `synthetic` more locations under providers of
 * 10 locations each (ids `1-2xxxxxxxxx`), all changed "long ago" (a day before the simulator started).
 */
export function demoRegister(synthetic = 0, now = Date.now()): { providers: SimProvider[]; locations: SimLocation[] } {
  const long = now - 86_400_000;
  const locations: SimLocation[] = DEMO_LOCATION_IDS.map((id, i) => ({
    record: locationRecord(id, DEMO_PROVIDER_ID, i, ['Oak Lodge', 'Elm House', 'Birch Court'][i], 'Good'),
    changedAt: long,
  }));
  const providers: SimProvider[] = [{ record: providerRecord(DEMO_PROVIDER_ID, [...DEMO_LOCATION_IDS], 'Sunrise Care Group Ltd'), changedAt: long }];
  for (let i = 0; i < synthetic; i++) {
    const providerId = `1-3${pad(Math.floor(i / 10), 9)}`;
    const id = `1-2${pad(i, 9)}`;
    locations.push({ record: locationRecord(id, providerId, i + 3), changedAt: long });
    if (i % 10 === 0) providers.push({ record: providerRecord(providerId, []), changedAt: long });
    providers[providers.length - 1]!.record.locationIds.push(id);
  }
  return { providers, locations };
}
