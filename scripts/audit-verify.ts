import { auditHeads, auditLog, migrationsFolder, schema } from '@hub/db';
import { createAuditTrail, createLogger, loadConfig, openDatabase } from '@hub/runtime';

/**
 * `npm run audit:verify -- [--organisation ORG]`: checks every organisation's audit chain (or one) in the hub's
 * database (DATABASE_URL, or the embedded one in DATA_DIR) and exits 1 when a chain does not hold, naming the first
 * row that was altered, removed or inserted.
 */
const args = process.argv.slice(2);
const at = args.indexOf('--organisation');
const only = at >= 0 ? args[at + 1] : undefined;
if ((at >= 0 && !only) || args.some((a, i) => a.startsWith('--') && a !== '--organisation' && i !== at + 1)) {
  console.error('usage: npm run audit:verify -- [--organisation ORG]');
  process.exit(2);
}
const config = loadConfig();
const log = createLogger('warn');
const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, schema, migrationsFolder });
let broken = 0;
try {
  const trail = createAuditTrail(database.db, { log: auditLog, heads: auditHeads }, log);
  const orgs = only ? [only] : (await database.db.select({ id: auditHeads.organisationId }).from(auditHeads)).map((r) => r.id);
  for (const org of orgs) {
    const r = await trail.verify(org);
    if (r.ok) console.log(`✓ ${org}: ${r.rows} rows, the chain holds`);
    else {
      broken++;
      console.log(`✗ ${org}: row ${r.brokenAt} breaks the chain: ${r.reason} (${r.rows} rows before it hold)`);
    }
  }
  if (!orgs.length) console.log('no audit rows yet');
} finally {
  await database.close();
}
process.exit(broken ? 1 : 0);
