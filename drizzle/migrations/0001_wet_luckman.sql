CREATE TABLE "events"."head" (
	"id" smallint PRIMARY KEY NOT NULL,
	"last" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "events"."events" ALTER COLUMN "sequence" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "events"."events" ADD COLUMN "system_id" uuid;--> statement-breakpoint
ALTER TABLE "events"."events" ADD COLUMN "integration_id" uuid;--> statement-breakpoint
CREATE INDEX "events_correlation" ON "events"."events" USING btree ("correlation_id");--> statement-breakpoint
CREATE INDEX "events_time" ON "events"."events" USING btree ("timestamp");--> statement-breakpoint
ALTER TABLE "events"."events" ALTER COLUMN "sequence" DROP DEFAULT;--> statement-breakpoint
DROP SEQUENCE IF EXISTS "events"."events_sequence_seq";--> statement-breakpoint
INSERT INTO "events"."head" ("id", "last") SELECT 1, COALESCE(MAX("sequence"), 0) FROM "events"."events" ON CONFLICT DO NOTHING;
