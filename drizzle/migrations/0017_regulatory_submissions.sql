CREATE TABLE "regulatory"."submissions" (
	"organisation_id" text NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"schema_version" integer NOT NULL,
	"home_id" text,
	"resident_id" text,
	"payload" jsonb NOT NULL,
	"status" text NOT NULL,
	"deadline" timestamp with time zone NOT NULL,
	"channel" text NOT NULL,
	"recipient" text,
	"created_by" text NOT NULL,
	"approved_by" text,
	"approved_at" timestamp with time zone,
	"sent_at" timestamp with time zone,
	"delivery_ref" text,
	"acknowledged_at" timestamp with time zone,
	"acknowledged_by" text,
	"regulator_reference" text,
	"rejected_at" timestamp with time zone,
	"rejection_reason" text,
	"overdue_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "regulatory_submissions_org" ON "regulatory"."submissions" USING btree ("organisation_id","created_at");--> statement-breakpoint
CREATE INDEX "regulatory_submissions_deadline" ON "regulatory"."submissions" USING btree ("status","deadline");