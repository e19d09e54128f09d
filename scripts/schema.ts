import { check, print } from './schema-registry.ts';

/** `npm run schema:check` (CI) and `npm run schema:print` (after an intended change). */
const mode = process.argv[2];
try {
  const result = mode === 'print' ? await print() : await check();
  if (result.breaking.length) console.log(`breaking changes against schema/api.graphql:\n${result.breaking.map((b) => `  - ${b}`).join('\n')}`);
  if (!result.ok) {
    console.error(result.problems.map((p) => `✗ ${p}`).join('\n'));
    if (result.unapproved.length) console.error('approve each in schema/approved-changes.json as { "change": "<the line above>", "reason": "..." }');
    process.exit(1);
  }
  console.log(mode === 'print' ? '✓ schema/ written' : '✓ the supergraph composes and schema/ is current');
} catch (err) {
  console.error(`✗ ${(err as Error).message}`);
  process.exit(1);
}
