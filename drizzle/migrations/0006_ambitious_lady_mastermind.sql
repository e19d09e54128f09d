CREATE SCHEMA "nhs";
--> statement-breakpoint
CREATE TABLE "nhs"."discharge_summaries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"nhs_number" text NOT NULL,
	"recipient_mailbox" text NOT NULL,
	"workflow_id" text NOT NULL,
	"status" text NOT NULL,
	"mesh_message_id" text,
	"document" jsonb NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"requested_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"acknowledged_at" timestamp with time zone,
	"last_checked_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "nhs"."audit" (
	"id" uuid PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"request_id" text,
	"api" text NOT NULL,
	"operation" text NOT NULL,
	"nhs_number" text,
	"outcome" text NOT NULL,
	"http_status" integer,
	"latency_ms" integer,
	"upstream_request_id" text
);
--> statement-breakpoint
CREATE TABLE "nhs"."outbox" (
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
CREATE INDEX "nhs_discharge_nhs_number" ON "nhs"."discharge_summaries" USING btree ("nhs_number","created_at");--> statement-breakpoint
CREATE INDEX "nhs_audit_at" ON "nhs"."audit" USING btree ("at");--> statement-breakpoint
CREATE INDEX "nhs_audit_nhs_number" ON "nhs"."audit" USING btree ("nhs_number","at");--> statement-breakpoint
CREATE INDEX "nhs_outbox_created" ON "nhs"."outbox" USING btree ("created_at");