CREATE SCHEMA "payroll";
--> statement-breakpoint
CREATE TABLE "payroll"."employees" (
	"organisation_id" text NOT NULL,
	"id" text NOT NULL,
	"employer_id" text NOT NULL,
	"pay_id" text NOT NULL,
	"title" text,
	"forenames" jsonb NOT NULL,
	"surname" text NOT NULL,
	"nino" text,
	"birth_date" text NOT NULL,
	"gender" text NOT NULL,
	"address" jsonb,
	"frequency" text NOT NULL,
	"pay_per_period" bigint NOT NULL,
	"tax_code" text NOT NULL,
	"week1_month1" boolean DEFAULT false NOT NULL,
	"ni_category" text NOT NULL,
	"student_loan_plan" text,
	"postgraduate_loan" boolean DEFAULT false NOT NULL,
	"pension" jsonb,
	"hours_worked" text DEFAULT 'C' NOT NULL,
	"start_date" text,
	"starter_declaration" text,
	"leaving_date" text,
	"ytd_tax_year" text,
	"ytd" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "employees_organisation_id_id_pk" PRIMARY KEY("organisation_id","id")
);
--> statement-breakpoint
CREATE TABLE "payroll"."employers" (
	"organisation_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"office_number" text NOT NULL,
	"paye_reference" text NOT NULL,
	"accounts_office_reference" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "employers_organisation_id_id_pk" PRIMARY KEY("organisation_id","id")
);
--> statement-breakpoint
CREATE TABLE "payroll"."outbox" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organisation_id" text NOT NULL,
	"home_id" text,
	"resident_id" text,
	"type" text NOT NULL,
	"source" text NOT NULL,
	"payload" jsonb NOT NULL,
	"correlation_id" text,
	"system_id" uuid,
	"integration_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payroll"."payslips" (
	"organisation_id" text NOT NULL,
	"run_id" text NOT NULL,
	"employee_id" text NOT NULL,
	"figures" jsonb NOT NULL,
	CONSTRAINT "payslips_organisation_id_run_id_employee_id_pk" PRIMARY KEY("organisation_id","run_id","employee_id")
);
--> statement-breakpoint
CREATE TABLE "payroll"."runs" (
	"organisation_id" text NOT NULL,
	"id" text NOT NULL,
	"employer_id" text NOT NULL,
	"tax_year" text NOT NULL,
	"frequency" text NOT NULL,
	"period" integer NOT NULL,
	"payment_date" text NOT NULL,
	"status" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"calculated_by" text,
	"calculated_at" timestamp with time zone,
	"approved_by" text,
	"approved_at" timestamp with time zone,
	CONSTRAINT "runs_organisation_id_id_pk" PRIMARY KEY("organisation_id","id")
);
--> statement-breakpoint
CREATE TABLE "payroll"."rti_submissions" (
	"organisation_id" text NOT NULL,
	"id" text NOT NULL,
	"employer_id" text NOT NULL,
	"run_id" text,
	"kind" text NOT NULL,
	"tax_year" text NOT NULL,
	"status" text NOT NULL,
	"document" text NOT NULL,
	"irmark" text NOT NULL,
	"correlation_id" text,
	"response_endpoint" text,
	"poll_interval_seconds" integer,
	"next_poll_at" timestamp with time zone,
	"polls" integer DEFAULT 0 NOT NULL,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"submitted_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "rti_submissions_organisation_id_id_pk" PRIMARY KEY("organisation_id","id")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "payroll_employees_pay_id" ON "payroll"."employees" USING btree ("organisation_id","employer_id","pay_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payroll_employers_reference" ON "payroll"."employers" USING btree ("organisation_id","office_number","paye_reference");--> statement-breakpoint
CREATE INDEX "payroll_outbox_created" ON "payroll"."outbox" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "payroll_runs_period" ON "payroll"."runs" USING btree ("organisation_id","employer_id","tax_year","frequency","period");--> statement-breakpoint
CREATE UNIQUE INDEX "payroll_rti_run" ON "payroll"."rti_submissions" USING btree ("organisation_id","run_id","kind");--> statement-breakpoint
CREATE INDEX "payroll_rti_status" ON "payroll"."rti_submissions" USING btree ("status");