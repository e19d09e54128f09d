ALTER TABLE "events"."subscriptions" ALTER COLUMN "target_url" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "events"."subscriptions" ALTER COLUMN "secret_sealed" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "events"."subscriptions" ADD COLUMN "kind" text DEFAULT 'WEBHOOK' NOT NULL;--> statement-breakpoint
ALTER TABLE "events"."subscriptions" ADD COLUMN "action" jsonb;