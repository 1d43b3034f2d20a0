import { connect } from '../connection/connect.js';
import {
  cancelRunningStatement,
  closeClient,
  openSession,
  type Session,
} from '../connection/session.js';
import { asConnectionLost } from '../connection/connection-lost.js';
import { ConfigError } from '../errors.js';
import type { CommandContext } from './context.js';

/**
 * Connects (waiting as configured), runs `fn` on the one session, and always closes it, which
 * also releases any advisory lock. An abort cancels the running statement on the server. A lost
 * connection is thrown as the error of the phase it happened in (see asConnectionLost).
 */
export async function withSession<T>(
  ctx: CommandContext,
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  const settings = ctx.config.database;
  if (!settings)
    throw new ConfigError(['no database given: set DATABASE_URL or pass --database-url']);
  const client = await connect(settings, {
    waitMs: ctx.config.waitMs,
    logger: ctx.logger,
    signal: ctx.signal,
  });
  const session = await openSession(
    client,
    settings,
    ctx.config.statementTimeoutMs,
    ctx.config.ddlLockTimeoutMs,
  ).catch(async (error: unknown) => {
    await closeClient(client);
    throw asConnectionLost(error, ctx.report, false);
  });
  const onAbort = (): void => {
    void cancelRunningStatement(session);
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (ctx.signal.aborted) throw ctx.signal.reason as Error;
    return await fn(session);
  } catch (error) {
    // A lost connection surfaces as the failure of the phase it happened in, never as a bug.
    throw asConnectionLost(error, ctx.report, true);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await closeClient(client);
  }
}
