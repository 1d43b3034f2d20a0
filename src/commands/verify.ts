import type { CommandContext } from '../pipeline/context.js';
import { loadSeeds, seedRowsCheck } from '../pipeline/seed-step.js';
import { withSession } from '../pipeline/session-scope.js';
import { loadExpected, verifyDatabase } from '../pipeline/verify-step.js';

/** `preflight verify`: expected schema, assertions and seed rows; read-only, no lock. Exit 8 on drift. */
export async function verifyCommand(ctx: CommandContext): Promise<number> {
  const seeds = loadSeeds(ctx);
  const expected = await loadExpected(ctx);
  await withSession(ctx, (session) =>
    verifyDatabase(ctx, session.client, expected, seedRowsCheck(seeds)),
  );
  return 0;
}
