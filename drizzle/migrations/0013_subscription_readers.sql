ALTER TABLE "events"."subscriptions" ADD COLUMN "created_by" text;--> statement-breakpoint
ALTER TABLE "events"."subscriptions" ADD COLUMN "reader_scopes" jsonb;--> statement-breakpoint
ALTER TABLE "events"."subscriptions" ADD COLUMN "reader_homes" jsonb;