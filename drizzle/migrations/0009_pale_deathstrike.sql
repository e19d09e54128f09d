CREATE SCHEMA "hmrc";
--> statement-breakpoint
CREATE TABLE "hmrc"."grants" (
	"id" text PRIMARY KEY NOT NULL,
	"sealed" text NOT NULL,
	"key_id" text NOT NULL,
	"scope" text NOT NULL,
	"access_expires_at" timestamp with time zone NOT NULL,
	"granted_at" timestamp with time zone NOT NULL,
	"granted_by" text NOT NULL,
	"refreshed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "hmrc"."outbox" (
	"id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"source" text NOT NULL,
	"payload" jsonb NOT NULL,
	"correlation_id" text,
	"system_id" uuid,
	"integration_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hmrc"."vat_submissions" (
	"vrn" text NOT NULL,
	"period_key" text NOT NULL,
	"status" text NOT NULL,
	"body" jsonb NOT NULL,
	"receipt" jsonb,
	"correlation_id" text,
	"submitted_by" text NOT NULL,
	"submitted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"error" text,
	CONSTRAINT "vat_submissions_vrn_period_key_pk" PRIMARY KEY("vrn","period_key")
);
--> statement-breakpoint
CREATE INDEX "hmrc_outbox_created" ON "hmrc"."outbox" USING btree ("created_at");