CREATE TABLE "mappings"."mapping_versions" (
	"mapping_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"description" text,
	"source_format" text NOT NULL,
	"target_format" text NOT NULL,
	"rules" jsonb NOT NULL,
	"target_schema" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mapping_versions_mapping_id_version_pk" PRIMARY KEY("mapping_id","version")
);
--> statement-breakpoint
CREATE TABLE "mappings"."outbox" (
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
ALTER TABLE "mappings"."mappings" ADD COLUMN "target_schema" jsonb;--> statement-breakpoint
ALTER TABLE "mappings"."mapping_versions" ADD CONSTRAINT "mapping_versions_mapping_id_mappings_id_fk" FOREIGN KEY ("mapping_id") REFERENCES "mappings"."mappings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "mappings_outbox_created" ON "mappings"."outbox" USING btree ("created_at");