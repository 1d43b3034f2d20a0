import type pg from 'pg';
import { connect } from '../connection/connect.js';
import {
  cancelRunningStatement,
  closeClient,
  openSession,
  type Session,
} from '../connection/session.js';
import { asConnectionLost } from '../connection/connection-lost.js';
import { inBackground } from '../connection/background.js';
import { ConfigError } from '../errors.js';
import type { CommandContext, EarlyConnection } from './context.js';

/**
 * Starts connecting to the command's database now (waiting as configured), for its first session
 * to take: main starts it before loading the command, so that the server's work of a new
 * connection overlaps that loading. Undefined when there is no database to connect to.
 */
export function connectEarly(ctx: CommandContext): EarlyConnection | undefined {
  const settings = ctx.config.database;
  if (!settings) return undefined;
  const dropped = new AbortController();
  const client = connect(settings, {
    waitMs: ctx.config.waitMs,
    logger: ctx.logger,
    signal: AbortSignal.any([ctx.signal, dropped.signal]),
  });
  client.catch(() => undefined);
  // Closed as any session is: waiting for the server (a dropped session may hold the lock).
  const drop = (): void => {
    dropped.abort(new Error('the early connection was dropped'));
    inBackground(client.then(closeClient));
  };
  let taken = false;
  return {
    settings,
    take() {
      if (taken) return undefined;
      taken = true;
      return { client, drop };
    },
    release() {
      if (taken) return;
      taken = true;
      drop();
    },
  };
}

/** How long a command's `prepare` waits for the login before it reads its files (loginFirst). */
const LOGIN_GRACE_MS = 100;

/**
 * Resolves once `sent` has (the session's first statements are on the wire), or after `graceMs`,
 * whichever comes first. Reading files holds the event loop, so the server's answer to the login
 * waits for it, and so does everything the session sends next; waiting idle instead lets those
 * statements go out at once, and the server works on them while the files are read. A server that
 * does not answer in time (down, far away) only delays the files' checks by `graceMs`.
 */
export async function loginFirst(sent: Promise<unknown>, graceMs = LOGIN_GRACE_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
  });
  try {
    await Promise.race([sent.then(noop, noop), grace]);
  } finally {
    clearTimeout(timer);
  }
}

const noop = (): void => undefined;

/**
 * Connects (waiting as configured), runs `fn` on the one session, and always closes it, which
 * also releases any advisory lock. An abort cancels the running statement on the server. A lost
 * connection is thrown as the error of the phase it happened in (see asConnectionLost).
 *
 * `prepare` (reading the files) runs while the connection is being made, and its result is
 * handed to `fn`; when it throws, that is the error, whatever connecting did, and the connection
 * is dropped. It gets the client once the session's settings are sent: what it sends then goes
 * out right behind them (the client is pipelined), without waiting for the session to open.
 */
export async function withSession<T, P = undefined>(
  ctx: CommandContext,
  fn: (session: Session, prepared: P) => Promise<T>,
  prepare?: (connected: Promise<pg.Client>) => P | Promise<P>,
): Promise<T> {
  const settings = ctx.config.database;
  if (!settings)
    throw new ConfigError(['no database given: set DATABASE_URL or pass --database-url']);
  const dropped = new AbortController();
  const early = ctx.early?.settings === settings ? ctx.early.take() : undefined;
  let settingsSent: (client: pg.Client) => void = () => undefined;
  const connected = new Promise<pg.Client>((resolve) => {
    settingsSent = resolve;
  });
  const signal = AbortSignal.any([ctx.signal, dropped.signal]);
  const opening = open(ctx, signal, early?.client, settingsSent);
  opening.catch(() => undefined);
  let prepared: P;
  try {
    prepared = prepare ? await prepare(connected) : (undefined as P);
  } catch (error) {
    dropped.abort(error);
    early?.drop();
    inBackground(opening.then((session) => closeClient(session.client)));
    throw error;
  }
  const session = await opening;
  const onAbort = (): void => {
    inBackground(cancelRunningStatement(session));
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

/**
 * Connects (or takes the early attempt) and opens the session (see openSession); a failure there
 * closes the client.
 */
async function open(
  ctx: CommandContext,
  signal: AbortSignal,
  early: Promise<pg.Client> | undefined,
  settingsSent: (client: pg.Client) => void,
): Promise<Session> {
  const settings = ctx.config.database;
  if (!settings)
    throw new ConfigError(['no database given: set DATABASE_URL or pass --database-url']);
  const client = await (early ??
    connect(settings, { waitMs: ctx.config.waitMs, logger: ctx.logger, signal }));
  return openSession(
    client,
    settings,
    ctx.config.statementTimeoutMs,
    ctx.config.ddlLockTimeoutMs,
    () => settingsSent(client),
  ).catch(async (error: unknown) => {
    await closeClient(client);
    throw asConnectionLost(error, ctx.report, false);
  });
}
