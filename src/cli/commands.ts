import type { CommandName } from './args.js';
import type { CommandContext } from '../pipeline/context.js';
import { UsageError } from '../errors.js';
import { migrateCommand } from '../commands/migrate.js';
import { newCommand } from '../commands/new.js';
import { runCommand } from '../commands/run.js';
import { statusCommand } from '../commands/status.js';

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
  seed: notYet('seed'),
  verify: notYet('verify'),
  snapshot: notYet('snapshot'),
  resolve: notYet('resolve'),
  baseline: notYet('baseline'),
  help: async () => 0,
};
