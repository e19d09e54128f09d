CREATE TABLE "systems"."outbox" (
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
CREATE TABLE "integrations"."outbox" (
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
CREATE INDEX "systems_outbox_created" ON "systems"."outbox" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "integrations_outbox_created" ON "integrations"."outbox" USING btree ("created_at");