CREATE SCHEMA "banking";
--> statement-breakpoint
CREATE TABLE "banking"."entries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"statement_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"direction" text NOT NULL,
	"status" text NOT NULL,
	"reversal" boolean NOT NULL,
	"booking_date" date,
	"value_date" date,
	"reference" text,
	"remittance" text,
	"counterparty_name" text,
	"counterparty_account" text,
	"bank_reference" text,
	"expected_payment_id" uuid
);
--> statement-breakpoint
CREATE TABLE "banking"."statements" (
	"id" uuid PRIMARY KEY NOT NULL,
	"account" text NOT NULL,
	"currency" text,
	"statement_id" text NOT NULL,
	"message_id" text,
	"created_at" timestamp with time zone,
	"from_at" timestamp with time zone,
	"to_at" timestamp with time zone,
	"opening_minor" bigint,
	"closing_minor" bigint,
	"balance_currency" text,
	"balanced" boolean,
	"imported_at" timestamp with time zone DEFAULT now() NOT NULL,
	"imported_by" text NOT NULL,
	CONSTRAINT "bank_statements_account_statement" UNIQUE("account","statement_id")
);
--> statement-breakpoint
CREATE TABLE "banking"."outbox" (
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
CREATE TABLE "banking"."expected_payments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"reference" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"received_minor" bigint DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'EXPECTED' NOT NULL,
	"payer" text,
	"due_date" date,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "expected_payments_reference_unique" UNIQUE("reference")
);
--> statement-breakpoint
ALTER TABLE "banking"."entries" ADD CONSTRAINT "entries_statement_id_statements_id_fk" FOREIGN KEY ("statement_id") REFERENCES "banking"."statements"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bank_entries_statement" ON "banking"."entries" USING btree ("statement_id","position");--> statement-breakpoint
CREATE INDEX "bank_entries_expected" ON "banking"."entries" USING btree ("expected_payment_id");--> statement-breakpoint
CREATE INDEX "banking_outbox_created" ON "banking"."outbox" USING btree ("created_at");