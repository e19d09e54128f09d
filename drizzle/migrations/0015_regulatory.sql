CREATE SCHEMA "regulatory";
--> statement-breakpoint
CREATE TABLE "regulatory"."cqc_locations" (
	"organisation_id" text NOT NULL,
	"location_id" text NOT NULL,
	"followed_for" text NOT NULL,
	"home_id" text,
	"provider_id" text,
	"name" text,
	"registration_status" text,
	"overall_rating" text,
	"rating_report_date" text,
	"data" jsonb NOT NULL,
	"fetched_at" timestamp with time zone DEFAULT now() NOT NULL,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "cqc_locations_organisation_id_location_id_pk" PRIMARY KEY("organisation_id","location_id")
);
--> statement-breakpoint
CREATE TABLE "regulatory"."cqc_providers" (
	"organisation_id" text NOT NULL,
	"provider_id" text NOT NULL,
	"name" text,
	"registration_status" text,
	"location_ids" jsonb NOT NULL,
	"data" jsonb NOT NULL,
	"fetched_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "cqc_providers_organisation_id_provider_id_pk" PRIMARY KEY("organisation_id","provider_id")
);
--> statement-breakpoint
CREATE TABLE "regulatory"."dbs_checks" (
	"organisation_id" text NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"staff_member_id" uuid NOT NULL,
	"certificate_number" text NOT NULL,
	"status" text NOT NULL,
	"result_type" text,
	"print_date" text,
	"http_status" integer,
	"error" text,
	"requested_by" text NOT NULL,
	"checked_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "regulatory"."organisations" (
	"organisation_id" text PRIMARY KEY NOT NULL,
	"name" text,
	"dbs_contact_forename" text,
	"dbs_contact_surname" text,
	"cqc_provider_id" text,
	"cqc_changes_read_to" timestamp with time zone,
	"cqc_last_sync_at" timestamp with time zone,
	"cqc_last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "regulatory"."outbox" (
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
CREATE TABLE "regulatory"."staff_members" (
	"organisation_id" text NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"home_id" text,
	"forename" text NOT NULL,
	"surname" text NOT NULL,
	"date_of_birth" date NOT NULL,
	"dbs_certificate_number" text,
	"consent_recorded_at" timestamp with time zone,
	"consent_recorded_by" text,
	"next_dbs_check_at" timestamp with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "regulatory_cqc_locations_provider" ON "regulatory"."cqc_locations" USING btree ("organisation_id","provider_id");--> statement-breakpoint
CREATE INDEX "regulatory_dbs_checks_staff" ON "regulatory"."dbs_checks" USING btree ("organisation_id","staff_member_id","checked_at");--> statement-breakpoint
CREATE INDEX "regulatory_outbox_created" ON "regulatory"."outbox" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "regulatory_staff_org" ON "regulatory"."staff_members" USING btree ("organisation_id");--> statement-breakpoint
CREATE INDEX "regulatory_staff_next_check" ON "regulatory"."staff_members" USING btree ("next_dbs_check_at");