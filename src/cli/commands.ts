import type { CommandName } from './args.js';
import type { CommandContext } from '../pipeline/context.js';
import { UsageError } from '../errors.js';
import { migrateCommand } from '../commands/migrate.js';
import { newCommand } from '../commands/new.js';
import { runCommand } from '../commands/run.js';
import { statusCommand } from '../commands/status.js';
import { seedCommand } from '../commands/seed.js';
import { verifyCommand } from '../commands/verify.js';
import { snapshotCommand } from '../commands/snapshot.js';

type Handler = (ctx: CommandContext) => Promise<number>;

const notYet =
  (name: string): Handler =>
  async () => {
    throw new UsageError(`\`preflight ${name}\` is not available in this build`);
  };

/** Every command's library function, by name. */
export const COMMAND_HANDLERS: Record<CommandName, Handler> = {
  run: runCommand,
  migrate: migrateCommand,
  status: statusCommand,
  new: newCommand,
  seed: seedCommand,
  verify: verifyCommand,
  snapshot: snapshotCommand,
  resolve: notYet('resolve'),
  baseline: notYet('baseline'),
  help: async () => 0,
};
