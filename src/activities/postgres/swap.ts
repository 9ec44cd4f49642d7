import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import { databaseExists, quoteIdent } from './session.js';

async function closeConnections(admin: pg.Client, database: string): Promise<void> {
  await admin.query(`ALTER DATABASE ${quoteIdent(admin, database)} WITH ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
}

export interface Swap {
  database: string;
  staging: string;
  /** The name the replaced original takes until it is dropped. */
  old: string;
  replace: boolean;
}

/**
 * Renames the verified staging database to `database`. Replacing one, both renames run in one
 * transaction (RENAME is transactional), so any failure leaves the original under its name;
 * it then accepts connections again. Returns whether an original was replaced.
 */
export async function swapIntoPlace(admin: pg.Client, swap: Swap, betweenRenames?: () => Promise<void>): Promise<boolean> {
  const name = (database: string) => quoteIdent(admin, database);
  if (!(await databaseExists(admin, swap.database))) {
    await admin.query(`ALTER DATABASE ${name(swap.staging)} RENAME TO ${name(swap.database)}`);
    return false;
  }
  if (!swap.replace) {
    throw ApplicationFailure.nonRetryable(`database "${swap.database}" exists and replacing it was not confirmed`, 'InvalidInput');
  }
  await closeConnections(admin, swap.database);
  try {
    await admin.query('BEGIN');
    await admin.query(`ALTER DATABASE ${name(swap.database)} RENAME TO ${name(swap.old)}`);
    await betweenRenames?.();
    await admin.query(`ALTER DATABASE ${name(swap.staging)} RENAME TO ${name(swap.database)}`);
    await admin.query('COMMIT');
    return true;
  } catch (error) {
    await admin.query('ROLLBACK').catch(() => undefined);
    await admin.query(`ALTER DATABASE ${name(swap.database)} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
    throw ApplicationFailure.create({
      message: `swapping the restored ${swap.staging} in as ${swap.database} failed; the original ${swap.database} is in place and accepts connections: ${(error as Error).message}`,
      type: 'SwapFailed',
      nonRetryable: (error as { nonRetryable?: boolean }).nonRetryable ?? false,
      cause: error as Error,
    });
  }
}

/** Lets connections into a database again that a swap closed (a no-op when it is open). */
export async function reopenIfClosed(admin: pg.Client, database: string): Promise<void> {
  const { rows } = await admin.query<{ open: boolean }>('SELECT datallowconn AS open FROM pg_database WHERE datname = $1', [database]);
  if (rows[0]?.open === false) await admin.query(`ALTER DATABASE ${quoteIdent(admin, database)} WITH ALLOW_CONNECTIONS true`);
}

/**
 * The reverse of swapIntoPlace, in one transaction: `database` (the restored copy) goes back
 * to the staging name and the kept original, if there is one, back to `database`, open again.
 * Returns whether there was an original.
 */
export async function swapBack(admin: pg.Client, swap: Swap): Promise<boolean> {
  const name = (database: string) => quoteIdent(admin, database);
  const hadOriginal = await databaseExists(admin, swap.old);
  await closeConnections(admin, swap.database);
  try {
    await admin.query('BEGIN');
    await admin.query(`ALTER DATABASE ${name(swap.database)} RENAME TO ${name(swap.staging)}`);
    if (hadOriginal) await admin.query(`ALTER DATABASE ${name(swap.old)} RENAME TO ${name(swap.database)}`);
    await admin.query('COMMIT');
  } catch (error) {
    await admin.query('ROLLBACK').catch(() => undefined);
    await reopenIfClosed(admin, swap.database).catch(() => undefined);
    throw error;
  }
  if (hadOriginal) await reopenIfClosed(admin, swap.database);
  return hadOriginal;
}
