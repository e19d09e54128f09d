CREATE SCHEMA "care";
--> statement-breakpoint
CREATE SCHEMA "audit";
--> statement-breakpoint
CREATE TABLE "care"."admissions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organisation_id" text NOT NULL,
	"home_id" text NOT NULL,
	"nhs_number" text NOT NULL,
	"resident_id" text NOT NULL,
	"admitted_on" date NOT NULL,
	"discharged_on" date,
	"admitted_by" text NOT NULL,
	"discharged_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "care"."outbox" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organisation_id" text NOT NULL,
	"home_id" text,
	"resident_id" text,
	"type" text NOT NULL,
	"source" text NOT NULL,
	"payload" jsonb NOT NULL,
	"correlation_id" text,
	"system_id" uuid,
	"integration_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "care"."homes" (
	"id" text PRIMARY KEY NOT NULL,
	"organisation_id" text NOT NULL,
	"name" text NOT NULL,
	"cqc_location_id" text,
	"ods_code" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "care"."organisations" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "care"."residents" (
	"id" text PRIMARY KEY NOT NULL,
	"organisation_id" text NOT NULL,
	"nhs_number" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "residents_org_nhs" UNIQUE("organisation_id","nhs_number")
);
--> statement-breakpoint
CREATE TABLE "audit"."heads" (
	"organisation_id" text PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit"."log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"organisation_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"client" text NOT NULL,
	"user_id" text,
	"action" text NOT NULL,
	"target_type" text NOT NULL,
	"target_id" text,
	"resident_id" text,
	"outcome" text NOT NULL,
	"request_id" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "audit_log_org_seq" UNIQUE("organisation_id","seq")
);
--> statement-breakpoint
INSERT INTO "care"."organisations" ("id", "name") VALUES ('default', 'Default organisation') ON CONFLICT DO NOTHING;
--> statement-breakpoint
ALTER TABLE "systems"."external_systems" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "systems"."health_checks" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "systems"."credentials" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "systems"."outbox" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "integrations"."integrations" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "integrations"."outbox" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "integrations"."sync_logs" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "integrations"."sync_runs" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "integrations"."records" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "mappings"."mapping_versions" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "mappings"."mappings" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "mappings"."outbox" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "metrics"."api_call_stats" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "metrics"."apis" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "metrics"."outbox" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "events"."dead_letters" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "events"."schemas" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "events"."subscriptions" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "events"."events" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "nhs"."discharge_summaries" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "nhs"."audit" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "nhs"."outbox" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "hmrc"."grants" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "hmrc"."outbox" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "hmrc"."vat_submissions" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "banking"."entries" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "banking"."statements" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "banking"."outbox" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "banking"."expected_payments" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "banking"."outgoing_payments" ADD COLUMN "organisation_id" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
ALTER TABLE "systems"."external_systems" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "systems"."health_checks" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "systems"."credentials" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "systems"."outbox" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "integrations"."integrations" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "integrations"."outbox" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "integrations"."sync_logs" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "integrations"."sync_runs" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "integrations"."records" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "mappings"."mapping_versions" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "mappings"."mappings" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "mappings"."outbox" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "metrics"."api_call_stats" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "metrics"."apis" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "metrics"."outbox" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "events"."dead_letters" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "events"."schemas" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "events"."subscriptions" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "events"."events" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "nhs"."discharge_summaries" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "nhs"."audit" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "nhs"."outbox" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "hmrc"."grants" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "hmrc"."outbox" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "hmrc"."vat_submissions" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "banking"."entries" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "banking"."statements" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "banking"."outbox" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "banking"."expected_payments" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "banking"."outgoing_payments" ALTER COLUMN "organisation_id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "systems"."external_systems" DROP CONSTRAINT "external_systems_name_unique";
--> statement-breakpoint
ALTER TABLE "mappings"."mappings" DROP CONSTRAINT "mappings_name_unique";
--> statement-breakpoint
ALTER TABLE "metrics"."apis" DROP CONSTRAINT "apis_base_path_unique";
--> statement-breakpoint
ALTER TABLE "metrics"."apis" DROP CONSTRAINT "apis_name_version";
--> statement-breakpoint
ALTER TABLE "events"."events" DROP CONSTRAINT "events_idempotency_key_unique";
--> statement-breakpoint
ALTER TABLE "banking"."statements" DROP CONSTRAINT "bank_statements_account_statement";
--> statement-breakpoint
ALTER TABLE "banking"."expected_payments" DROP CONSTRAINT "expected_payments_reference_unique";
--> statement-breakpoint
ALTER TABLE "hmrc"."vat_submissions" DROP CONSTRAINT "vat_submissions_vrn_period_key_pk";
--> statement-breakpoint
ALTER TABLE "events"."schemas" DROP CONSTRAINT "schemas_pkey";
--> statement-breakpoint
ALTER TABLE "hmrc"."grants" DROP CONSTRAINT "grants_pkey";
--> statement-breakpoint
ALTER TABLE "events"."schemas" ADD CONSTRAINT "schemas_organisation_id_type_pk" PRIMARY KEY("organisation_id","type");
--> statement-breakpoint
ALTER TABLE "hmrc"."grants" ADD CONSTRAINT "grants_organisation_id_id_pk" PRIMARY KEY("organisation_id","id");
--> statement-breakpoint
ALTER TABLE "hmrc"."vat_submissions" ADD CONSTRAINT "vat_submissions_organisation_id_vrn_period_key_pk" PRIMARY KEY("organisation_id","vrn","period_key");
--> statement-breakpoint
ALTER TABLE "systems"."outbox" ADD COLUMN "home_id" text;
--> statement-breakpoint
ALTER TABLE "systems"."outbox" ADD COLUMN "resident_id" text;
--> statement-breakpoint
ALTER TABLE "integrations"."outbox" ADD COLUMN "home_id" text;
--> statement-breakpoint
ALTER TABLE "integrations"."outbox" ADD COLUMN "resident_id" text;
--> statement-breakpoint
ALTER TABLE "mappings"."outbox" ADD COLUMN "home_id" text;
--> statement-breakpoint
ALTER TABLE "mappings"."outbox" ADD COLUMN "resident_id" text;
--> statement-breakpoint
ALTER TABLE "metrics"."outbox" ADD COLUMN "home_id" text;
--> statement-breakpoint
ALTER TABLE "metrics"."outbox" ADD COLUMN "resident_id" text;
--> statement-breakpoint
ALTER TABLE "events"."events" ADD COLUMN "resident_id" text;
--> statement-breakpoint
ALTER TABLE "events"."events" ADD COLUMN "home_id" text;
--> statement-breakpoint
ALTER TABLE "events"."events" ADD COLUMN "publisher" text;
--> statement-breakpoint
ALTER TABLE "nhs"."outbox" ADD COLUMN "home_id" text;
--> statement-breakpoint
ALTER TABLE "nhs"."outbox" ADD COLUMN "resident_id" text;
--> statement-breakpoint
ALTER TABLE "hmrc"."outbox" ADD COLUMN "home_id" text;
--> statement-breakpoint
ALTER TABLE "hmrc"."outbox" ADD COLUMN "resident_id" text;
--> statement-breakpoint
ALTER TABLE "banking"."outbox" ADD COLUMN "home_id" text;
--> statement-breakpoint
ALTER TABLE "banking"."outbox" ADD COLUMN "resident_id" text;
--> statement-breakpoint
ALTER TABLE "care"."admissions" ADD CONSTRAINT "admissions_home_id_homes_id_fk" FOREIGN KEY ("home_id") REFERENCES "care"."homes"("id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "care"."homes" ADD CONSTRAINT "homes_organisation_id_organisations_id_fk" FOREIGN KEY ("organisation_id") REFERENCES "care"."organisations"("id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "admissions_org_nhs" ON "care"."admissions" USING btree ("organisation_id","nhs_number");
--> statement-breakpoint
CREATE INDEX "admissions_resident" ON "care"."admissions" USING btree ("resident_id");
--> statement-breakpoint
CREATE INDEX "care_outbox_created" ON "care"."outbox" USING btree ("created_at");
--> statement-breakpoint
CREATE INDEX "homes_organisation" ON "care"."homes" USING btree ("organisation_id");
--> statement-breakpoint
CREATE INDEX "audit_log_org_at" ON "audit"."log" USING btree ("organisation_id","at");
--> statement-breakpoint
CREATE INDEX "audit_log_resident" ON "audit"."log" USING btree ("resident_id");
--> statement-breakpoint
CREATE INDEX "events_org_seq" ON "events"."events" USING btree ("organisation_id","sequence");
--> statement-breakpoint
CREATE INDEX "events_resident" ON "events"."events" USING btree ("resident_id");
--> statement-breakpoint
ALTER TABLE "systems"."external_systems" ADD CONSTRAINT "external_systems_org_name" UNIQUE("organisation_id","name");
--> statement-breakpoint
ALTER TABLE "mappings"."mappings" ADD CONSTRAINT "mappings_org_name" UNIQUE("organisation_id","name");
--> statement-breakpoint
ALTER TABLE "metrics"."apis" ADD CONSTRAINT "apis_org_name_version" UNIQUE("organisation_id","name","version");
--> statement-breakpoint
ALTER TABLE "metrics"."apis" ADD CONSTRAINT "apis_org_base_path" UNIQUE("organisation_id","base_path");
--> statement-breakpoint
ALTER TABLE "events"."events" ADD CONSTRAINT "events_org_idempotency" UNIQUE("organisation_id","idempotency_key");
--> statement-breakpoint
ALTER TABLE "banking"."statements" ADD CONSTRAINT "bank_statements_org_account_statement" UNIQUE("organisation_id","account","statement_id");
--> statement-breakpoint
ALTER TABLE "banking"."expected_payments" ADD CONSTRAINT "expected_payments_org_reference" UNIQUE("organisation_id","reference");
--> statement-breakpoint
CREATE FUNCTION "audit"."refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('hub.audit_prune', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "log_append_only" BEFORE UPDATE OR DELETE ON "audit"."log" FOR EACH ROW EXECUTE FUNCTION "audit"."refuse_change"();
--> statement-breakpoint
CREATE TRIGGER "log_no_truncate" BEFORE TRUNCATE ON "audit"."log" FOR EACH STATEMENT EXECUTE FUNCTION "audit"."refuse_change"();
