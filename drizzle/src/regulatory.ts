import { date, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { outboxTable } from './outbox.ts';

/**
 * Tables of the regulatory subgraph: what the CQC register says about an organisation's provider and locations (kept
 * current through CQC's change feed), and the DBS Update Service status checks of its staff.
 */
export const regulatorySchema = pgSchema('regulatory');

/**
 * An organisation's regulatory settings: the name it gives regulators (the DBS logs it and shows it to the
 * certificate holder), its CQC provider, and where CQC's change feed was last read up to. One row per organisation.
 */
export const regulatoryOrganisations = regulatorySchema.table('organisations', {
  organisationId: text('organisation_id').primaryKey(),
  /** The employer's name as the DBS Update Service is told it. */
  name: text('name'),
  /** Who at the employer makes DBS status checks: the Update Service logs them with each check. */
  dbsContactForename: text('dbs_contact_forename'),
  dbsContactSurname: text('dbs_contact_surname'),
  /** The CQC provider id (`1-101234567`), whose locations are kept. */
  cqcProviderId: text('cqc_provider_id'),
  /** The change feed's last endTimestamp read: the next sync asks from here. Null until the first full read. */
  cqcChangesReadTo: timestamp('cqc_changes_read_to', { withTimezone: true }),
  cqcLastSyncAt: timestamp('cqc_last_sync_at', { withTimezone: true }),
  cqcLastError: text('cqc_last_error'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The organisation's provider as the register has it (the whole CQC record in `data`). */
export const cqcProviders = regulatorySchema.table(
  'cqc_providers',
  {
    organisationId: text('organisation_id').notNull(),
    providerId: text('provider_id').notNull(),
    name: text('name'),
    registrationStatus: text('registration_status'),
    locationIds: jsonb('location_ids').$type<string[]>().notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    fetchedAt: timestamp('fetched_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.organisationId, t.providerId] })],
);

/**
 * A CQC location the organisation follows: one of its provider's, or one a home of its names (HOME), or one asked for
 * (EXPLICIT). The searchable parts in columns, the whole CQC record in `data`.
 */
export const cqcLocations = regulatorySchema.table(
  'cqc_locations',
  {
    organisationId: text('organisation_id').notNull(),
    locationId: text('location_id').notNull(),
    /** PROVIDER, HOME or EXPLICIT: why the organisation follows it. */
    followedFor: text('followed_for').notNull(),
    /** The home that named it (HOME): its events are that home's. */
    homeId: text('home_id'),
    providerId: text('provider_id'),
    name: text('name'),
    registrationStatus: text('registration_status'),
    overallRating: text('overall_rating'),
    ratingReportDate: text('rating_report_date'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    fetchedAt: timestamp('fetched_at', { withTimezone: true }).notNull().defaultNow(),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.organisationId, t.locationId] }), index('regulatory_cqc_locations_provider').on(t.organisationId, t.providerId)],
);

/**
 * A member of staff whose DBS certificate the organisation checks on the Update Service. The check needs the
 * certificate holder's consent: without `consentRecordedAt` no call is made.
 */
export const staffMembers = regulatorySchema.table(
  'staff_members',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    homeId: text('home_id'),
    forename: text('forename').notNull(),
    surname: text('surname').notNull(),
    dateOfBirth: date('date_of_birth').notNull(),
    /** The 12-digit DBS certificate number, subscribed to the Update Service. */
    dbsCertificateNumber: text('dbs_certificate_number'),
    consentRecordedAt: timestamp('consent_recorded_at', { withTimezone: true }),
    consentRecordedBy: text('consent_recorded_by'),
    /** When the scheduled status check should next look at this certificate. */
    nextDbsCheckAt: timestamp('next_dbs_check_at', { withTimezone: true }),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('regulatory_staff_org').on(t.organisationId), index('regulatory_staff_next_check').on(t.nextDbsCheckAt)],
);

/** One DBS Update Service status check and what it answered. */
export const dbsChecks = regulatorySchema.table(
  'dbs_checks',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    staffMemberId: uuid('staff_member_id').notNull(),
    certificateNumber: text('certificate_number').notNull(),
    /** NO_MATCH_FOUND, BLANK_NO_NEW_INFO, NON_BLANK_NO_NEW_INFO, NEW_INFO; or ERROR when the service did not answer one. */
    status: text('status').notNull(),
    resultType: text('result_type'),
    printDate: text('print_date'),
    httpStatus: integer('http_status'),
    error: text('error'),
    /** SCHEDULE or the client that asked. */
    requestedBy: text('requested_by').notNull(),
    checkedAt: timestamp('checked_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('regulatory_dbs_checks_staff').on(t.organisationId, t.staffMemberId, t.checkedAt)],
);

/**
 * A notification or return to a regulator, tracked: DRAFT, APPROVED by a second client (four eyes), SENT,
 * ACKNOWLEDGED or REJECTED; OVERDUE when its deadline passed before it was sent. Its payload was valid against
 * its kind's JSON Schema (`schemaVersion`) when it was made.
 */
export const submissions = regulatorySchema.table(
  'submissions',
  {
    organisationId: text('organisation_id').notNull(),
    id: uuid('id').primaryKey(),
    kind: text('kind').notNull(),
    schemaVersion: integer('schema_version').notNull(),
    homeId: text('home_id'),
    /** The resident it names, by the organisation's pseudonym. */
    residentId: text('resident_id'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    status: text('status').notNull(),
    deadline: timestamp('deadline', { withTimezone: true }).notNull(),
    channel: text('channel').notNull(),
    recipient: text('recipient'),
    createdBy: text('created_by').notNull(),
    approvedBy: text('approved_by'),
    approvedAt: timestamp('approved_at', { withTimezone: true }),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    /** What the channel gave back (the SMTP Message-ID). */
    deliveryRef: text('delivery_ref'),
    acknowledgedAt: timestamp('acknowledged_at', { withTimezone: true }),
    acknowledgedBy: text('acknowledged_by'),
    /** The regulator's own reference, from its acknowledgement. */
    regulatorReference: text('regulator_reference'),
    rejectedAt: timestamp('rejected_at', { withTimezone: true }),
    rejectionReason: text('rejection_reason'),
    overdueAt: timestamp('overdue_at', { withTimezone: true }),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('regulatory_submissions_org').on(t.organisationId, t.createdAt), index('regulatory_submissions_deadline').on(t.status, t.deadline)],
);

export const regulatoryOutbox = outboxTable(regulatorySchema);
