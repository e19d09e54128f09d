import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: ['./drizzle/src/systems.ts', './drizzle/src/integrations.ts', './drizzle/src/mappings.ts', './drizzle/src/metrics.ts', './drizzle/src/events.ts', './drizzle/src/nhs.ts', './drizzle/src/hmrc.ts', './drizzle/src/banking.ts', './drizzle/src/care.ts', './drizzle/src/audit.ts', './drizzle/src/regulatory.ts', './drizzle/src/payroll.ts'],
  out: './drizzle/migrations',
});
