import type { CommandName } from './args.js';
import type { CommandContext } from '../pipeline/context.js';
import { migrateCommand } from '../commands/migrate.js';
import { newCommand } from '../commands/new.js';
import { runCommand } from '../commands/run.js';
import { statusCommand } from '../commands/status.js';
import { seedCommand } from '../commands/seed.js';
import { verifyCommand } from '../commands/verify.js';
import { snapshotCommand } from '../commands/snapshot.js';
import { resolveCommand } from '../commands/resolve.js';
import { baselineCommand } from '../commands/baseline.js';

type Handler = (ctx: CommandContext) => Promise<number>;

/** Every command's library function, by name. */
export const COMMAND_HANDLERS: Record<CommandName, Handler> = {
  run: runCommand,
  migrate: migrateCommand,
  status: statusCommand,
  new: newCommand,
  seed: seedCommand,
  verify: verifyCommand,
  snapshot: snapshotCommand,
  resolve: resolveCommand,
  baseline: baselineCommand,
  help: async () => 0,
};
