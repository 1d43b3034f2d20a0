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
 *
 * `prepare` (reading the files) runs while the connection is being made, and its result is
 * handed to `fn`; when it throws, that is the error, whatever connecting did, and the connection
 * is dropped before anything was sent on it.
 */
export async function withSession<T, P = undefined>(
  ctx: CommandContext,
  fn: (session: Session, prepared: P) => Promise<T>,
  prepare?: () => P | Promise<P>,
): Promise<T> {
  const settings = ctx.config.database;
  if (!settings)
    throw new ConfigError(['no database given: set DATABASE_URL or pass --database-url']);
  const dropped = new AbortController();
  const opening = open(ctx, AbortSignal.any([ctx.signal, dropped.signal]));
  opening.catch(() => undefined);
  let prepared: P;
  try {
    prepared = prepare ? await prepare() : (undefined as P);
  } catch (error) {
    dropped.abort(error);
    void opening.then(
      (session) => closeClient(session.client, { linger: false }),
      () => undefined,
    );
    throw error;
  }
  const session = await opening;
  const onAbort = (): void => {
    void cancelRunningStatement(session);
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (ctx.signal.aborted) throw ctx.signal.reason as Error;
    return await fn(session, prepared);
  } catch (error) {
    // A lost connection surfaces as the failure of the phase it happened in, never as a bug.
    throw asConnectionLost(error, ctx.report, true);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    // Holding nothing, the session need not wait for the server to close its end.
    await closeClient(session.client, { linger: session.lockHeld });
  }
}

/** Connects and opens the session (see openSession); a failure there closes the client. */
async function open(ctx: CommandContext, signal: AbortSignal): Promise<Session> {
  const settings = ctx.config.database;
  if (!settings)
    throw new ConfigError(['no database given: set DATABASE_URL or pass --database-url']);
  const client = await connect(settings, {
    waitMs: ctx.config.waitMs,
    logger: ctx.logger,
    signal,
  });
  return openSession(
    client,
    settings,
    ctx.config.statementTimeoutMs,
    ctx.config.ddlLockTimeoutMs,
  ).catch(async (error: unknown) => {
    await closeClient(client);
    throw asConnectionLost(error, ctx.report, false);
  });
}
