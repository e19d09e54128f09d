CREATE TABLE "metrics"."api_call_stats" (
	"api_id" uuid NOT NULL,
	"minute" timestamp with time zone NOT NULL,
	"outcome" text NOT NULL,
	"requests" integer NOT NULL,
	"total_ms" double precision NOT NULL,
	"max_ms" double precision NOT NULL,
	"buckets" integer[] NOT NULL,
	CONSTRAINT "api_call_stats_api_id_minute_outcome_pk" PRIMARY KEY("api_id","minute","outcome")
);
--> statement-breakpoint
CREATE TABLE "metrics"."outbox" (
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
ALTER TABLE "metrics"."apis" DROP CONSTRAINT "apis_name_unique";--> statement-breakpoint
ALTER TABLE "metrics"."apis" ADD COLUMN "description" text;--> statement-breakpoint
ALTER TABLE "metrics"."apis" ADD COLUMN "timeout_ms" integer DEFAULT 10000 NOT NULL;--> statement-breakpoint
ALTER TABLE "metrics"."apis" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "metrics"."api_call_stats" ADD CONSTRAINT "api_call_stats_api_id_apis_id_fk" FOREIGN KEY ("api_id") REFERENCES "metrics"."apis"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "metrics_outbox_created" ON "metrics"."outbox" USING btree ("created_at");--> statement-breakpoint
ALTER TABLE "metrics"."apis" ADD CONSTRAINT "apis_base_path_unique" UNIQUE("base_path");--> statement-breakpoint
ALTER TABLE "metrics"."apis" ADD CONSTRAINT "apis_name_version" UNIQUE("name","version");