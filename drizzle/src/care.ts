import { date, index, pgSchema, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { outboxTable } from './outbox.ts';

/**
 * Who owns what: organisations (care groups), their homes (CQC locations), and the residents each home looks after.
 * Every other table of the hub names its organisation (`organisation_id`, see `owner()`), and its home where that
 * means something.
 */
export const careSchema = pgSchema('care');

/** The organisation every record of a hub that predates organisations belongs to, and the demo's. */
export const DEFAULT_ORGANISATION_ID = 'default';

export const organisations = careSchema.table('organisations', {
  /** A short stable id (`sunrise-care`): API keys and JWT claims name it. */
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const homes = careSchema.table(
  'homes',
  {
    id: text('id').primaryKey(),
    organisationId: text('organisation_id')
      .notNull()
      .references(() => organisations.id),
    name: text('name').notNull(),
    /** The CQC location id (`1-123456789`), as on the CQC register. */
    cqcLocationId: text('cqc_location_id'),
    /** The home's ODS code (organisation data service), as NHS systems know it. */
    odsCode: text('ods_code'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('homes_organisation').on(t.organisationId)],
);

/**
 * A resident's stay at a home: admitted on a date, discharged on another (or still there). NHS records are read only
 * for residents with a current stay at one of the caller's homes, or one that ended within the configured window.
 * `residentId` is the resident's pseudonymous id in this organisation: events and logs name it instead of the NHS number.
 */
export const admissions = careSchema.table(
  'admissions',
  {
    id: uuid('id').primaryKey(),
    organisationId: text('organisation_id').notNull(),
    homeId: text('home_id')
      .notNull()
      .references(() => homes.id),
    nhsNumber: text('nhs_number').notNull(),
    residentId: text('resident_id').notNull(),
    admittedOn: date('admitted_on').notNull(),
    dischargedOn: date('discharged_on'),
    admittedBy: text('admitted_by').notNull(),
    dischargedBy: text('discharged_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('admissions_org_nhs').on(t.organisationId, t.nhsNumber), index('admissions_resident').on(t.residentId)],
);

/** The pseudonymous id of each resident an organisation has ever admitted: one per (organisation, NHS number), kept across stays. */
export const residents = careSchema.table(
  'residents',
  {
    id: text('id').primaryKey(),
    organisationId: text('organisation_id').notNull(),
    nhsNumber: text('nhs_number').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [unique('residents_org_nhs').on(t.organisationId, t.nhsNumber)],
);

export const careOutbox = outboxTable(careSchema);
