import type pg from 'pg';
import { withTransaction } from '../connection/session.js';
import type { Logger } from '../log/logger.js';
import type { HistoryStore } from './history.js';
import type { RecoveryAction } from './recovery.js';

function describe(action: RecoveryAction): { event: string; migration: string; text: string } {
  switch (action.kind) {
    case 'roll-back-failed':
      return {
        event: 'history.rolled-back',
        migration: action.name,
        text: `${action.name}: its failed attempt is marked rolled back; the next run applies the file again`,
      };
    case 'mark-applied':
      return {
        event: 'history.marked-applied',
        migration: action.file.name,
        text: `${action.file.name}: recorded as applied (not run)`,
      };
    case 'update-checksum':
      return {
        event: 'history.checksum-updated',
        migration: action.file.name,
        text: `${action.file.name}: recorded with the checksum of its current file`,
      };
  }
}

/**
 * Writes a recovery plan to the history in one transaction (the caller holds the lock): all
 * of it or, when anything fails, none of it. Creates the history table when it is missing.
 */
export async function writeRecovery(
  client: pg.ClientBase,
  store: HistoryStore,
  actions: readonly RecoveryAction[],
  logger: Logger,
): Promise<void> {
  await withTransaction(client, async () => {
    await store.ensure(client);
    for (const action of actions) {
      if (action.kind === 'roll-back-failed') await store.markRolledBack(client, action.id);
      else if (action.kind === 'mark-applied') await store.markApplied(client, action.file);
      else await store.updateChecksum(client, action.file);
    }
  });
  for (const action of actions) {
    const { event, migration, text } = describe(action);
    logger.info({ event, migration }, text);
  }
}
