import { LedgerRepository } from '../domains/balance/ledger.repository.ts';
import { ConfigError, loadConfig } from '../platform/config/config.ts';
import { resolveDatabase } from '../platform/db/connect.ts';
import { createDatabase } from '../platform/db/database.ts';
import { withTransaction } from '../platform/db/transaction.ts';
import { createLogger } from '../platform/observability/logger.ts';

/**
 * `npm run ledger:check [-- --repair]`: recomputes every balance from the postings and compares it
 * with the stored projection; also checks that every transaction and the whole ledger sum to zero.
 * Exits 1 when something does not match. `--repair` rewrites drifted balance rows from the postings
 * (the postings are the record; balances are derived from them).
 */
const repair = process.argv.includes('--repair');
try {
  const config = loadConfig();
  const logger = createLogger(config);
  const store = await resolveDatabase(config, logger);
  const database = createDatabase({ url: store.url, poolMax: 2 });
  const repo = new LedgerRepository();
  try {
    let report = await repo.verify(database.db);
    const write = (line: string) => process.stdout.write(`${line}\n`);
    write(`balance rows: ${report.rows}; sum of all postings: ${report.total}`);
    for (const m of report.mismatches) {
      write(
        `mismatch account ${m.accountId} shard ${m.shard}: balance ${m.balance} (version ${m.version}), postings say ${m.fromPostings} (${m.postings} postings)`,
      );
    }
    for (const id of report.unbalancedTransactions) write(`unbalanced transaction ${id}`);
    if (repair && report.mismatches.length > 0) {
      const fixed = await withTransaction(database.db, (tx) => repo.rebuildProjection(tx));
      write(`repaired ${fixed} balance row(s) from the postings`);
      report = await repo.verify(database.db);
    }
    const ok =
      report.mismatches.length === 0 && report.unbalancedTransactions.length === 0 && report.total === 0n;
    write(ok ? 'ledger OK' : 'ledger does NOT match its postings');
    process.exitCode = ok ? 0 : 1;
  } finally {
    await database.close();
    await store.stop();
  }
} catch (error) {
  const known = error instanceof ConfigError;
  process.stderr.write(
    `olo: ${known ? '' : 'ledger check failed: '}${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
