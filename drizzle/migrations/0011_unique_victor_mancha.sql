CREATE TABLE "banking"."outgoing_payments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"reference" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"creditor_name" text NOT NULL,
	"creditor_sort_code" text NOT NULL,
	"creditor_account_number" text NOT NULL,
	"description" text,
	"status" text NOT NULL,
	"consent_id" text,
	"consent_idempotency_key" text NOT NULL,
	"payment_idempotency_key" text NOT NULL,
	"auth_state" text,
	"bank_payment_id" text,
	"error" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "outgoing_payments_auth_state_unique" UNIQUE("auth_state")
);
--> statement-breakpoint
CREATE INDEX "outgoing_payments_status" ON "banking"."outgoing_payments" USING btree ("status");