CREATE SCHEMA "systems";
--> statement-breakpoint
CREATE SCHEMA "integrations";
--> statement-breakpoint
CREATE SCHEMA "mappings";
--> statement-breakpoint
CREATE SCHEMA "metrics";
--> statement-breakpoint
CREATE SCHEMA "events";
--> statement-breakpoint
CREATE TABLE "systems"."external_systems" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"endpoint" text NOT NULL,
	"health_path" text DEFAULT '/health' NOT NULL,
	"authentication" jsonb NOT NULL,
	"capabilities" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"data_formats" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"rate_limits" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"configuration" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text NOT NULL,
	"last_connected" timestamp with time zone,
	"last_checked_at" timestamp with time zone,
	"last_latency_ms" integer,
	"last_http_status" integer,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "external_systems_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "systems"."health_checks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"system_id" uuid NOT NULL,
	"checked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ok" boolean NOT NULL,
	"latency_ms" integer,
	"http_status" integer,
	"error" text,
	"trigger" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "systems"."credentials" (
	"system_id" uuid PRIMARY KEY NOT NULL,
	"sealed" text NOT NULL,
	"key_id" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "integrations"."integrations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"external_system_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"kind" text NOT NULL,
	"resource" jsonb NOT NULL,
	"sync_schedule" jsonb,
	"schedule_version" integer DEFAULT 0 NOT NULL,
	"configuration" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text NOT NULL,
	"last_sync_at" timestamp with time zone,
	"success_count" integer DEFAULT 0 NOT NULL,
	"error_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "integrations"."sync_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid NOT NULL,
	"integration_id" uuid NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL,
	"data" jsonb
);
--> statement-breakpoint
CREATE TABLE "integrations"."sync_runs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"integration_id" uuid NOT NULL,
	"trigger" text NOT NULL,
	"status" text NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"duration_ms" integer,
	"pages" integer DEFAULT 0 NOT NULL,
	"records_received" integer DEFAULT 0 NOT NULL,
	"records_stored" integer DEFAULT 0 NOT NULL,
	"error_count" integer DEFAULT 0 NOT NULL,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "integrations"."records" (
	"integration_id" uuid NOT NULL,
	"external_id" text NOT NULL,
	"data" jsonb NOT NULL,
	"run_id" uuid NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "records_integration_id_external_id_pk" PRIMARY KEY("integration_id","external_id")
);
--> statement-breakpoint
CREATE TABLE "mappings"."mappings" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"source_format" text NOT NULL,
	"target_format" text NOT NULL,
	"rules" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "mappings_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "metrics"."apis" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"version" text NOT NULL,
	"base_path" text NOT NULL,
	"upstream_url" text NOT NULL,
	"rate_limit" jsonb,
	"status" text DEFAULT 'ACTIVE' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "apis_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "events"."events" (
	"sequence" bigserial PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL,
	"type" text NOT NULL,
	"source" text NOT NULL,
	"destination" text,
	"payload" jsonb NOT NULL,
	"timestamp" timestamp with time zone DEFAULT now() NOT NULL,
	"correlation_id" text,
	"causation_id" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text NOT NULL,
	"idempotency_key" text,
	CONSTRAINT "events_id_unique" UNIQUE("id"),
	CONSTRAINT "events_idempotency_key_unique" UNIQUE("idempotency_key")
);
--> statement-breakpoint
ALTER TABLE "systems"."health_checks" ADD CONSTRAINT "health_checks_system_id_external_systems_id_fk" FOREIGN KEY ("system_id") REFERENCES "systems"."external_systems"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "systems"."credentials" ADD CONSTRAINT "credentials_system_id_external_systems_id_fk" FOREIGN KEY ("system_id") REFERENCES "systems"."external_systems"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "integrations"."sync_logs" ADD CONSTRAINT "sync_logs_run_id_sync_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "integrations"."sync_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "integrations"."sync_runs" ADD CONSTRAINT "sync_runs_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "integrations"."integrations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "integrations"."records" ADD CONSTRAINT "records_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "integrations"."integrations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "health_checks_system_time" ON "systems"."health_checks" USING btree ("system_id","checked_at");--> statement-breakpoint
CREATE INDEX "integrations_system" ON "integrations"."integrations" USING btree ("external_system_id");--> statement-breakpoint
CREATE INDEX "sync_logs_integration" ON "integrations"."sync_logs" USING btree ("integration_id","id");--> statement-breakpoint
CREATE INDEX "sync_runs_integration_time" ON "integrations"."sync_runs" USING btree ("integration_id","queued_at");--> statement-breakpoint
CREATE INDEX "events_type_seq" ON "events"."events" USING btree ("type","sequence");