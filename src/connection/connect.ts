import pg from 'pg';
import type { ConnectionSettings } from '../config/database-url.js';
import { redactSecret } from '../config/database-url.js';
import { formatDuration } from '../config/duration.js';
import { ConnectError, ExitCode, PreflightError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { sleep } from './sleep.js';

/** SQLSTATEs and socket errors that may pass if we wait: the server is starting, busy, or not up yet. */
const TRANSIENT_SQLSTATES = new Set([
  '57P03',
  '53300',
  '08001',
  '08006',
  '08004',
  '57P01',
  '57P02',
]);
const TRANSIENT_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** The pg client options for these settings; the application name is always `preflight`. */
export function clientOptions(
  settings: ConnectionSettings,
  connectTimeoutMs: number,
): pg.ClientConfig {
  return {
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password ?? '',
    database: settings.database,
    ssl: settings.ssl,
    application_name: 'preflight',
    connectionTimeoutMillis: Math.max(1, Math.round(connectTimeoutMs)),
    keepAlive: true,
    // A startup option, not a SET: it stays the session default across RESET ALL.
    ...(settings.schema ? { options: `-c search_path=${searchPathOption(settings.schema)}` } : {}),
  };
}

/** The schema as a search_path value inside a startup `options` string (spaces escaped). */
export function searchPathOption(schema: string): string {
  const quoted = `"${schema.replace(/"/g, '""')}"`;
  return quoted.replace(/\\/g, '\\\\').replace(/ /g, '\\ ');
}

/** Whether a connection error may pass by waiting (refused, DNS, starting up, timeouts). */
export function isTransientConnectError(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e.code && (TRANSIENT_SQLSTATES.has(e.code) || TRANSIENT_ERRNOS.has(e.code))) return true;
  const message = e.message ?? '';
  return /timeout|terminated unexpectedly|Connection terminated|the database system is (starting|shutting)/i.test(
    message,
  );
}

/** One line that tells what went wrong and what to check, never the password. */
export function describeConnectError(error: unknown, settings: ConnectionSettings): string {
  const e = error as { code?: string; message?: string };
  const where = `${settings.host}:${settings.port}/${settings.database} as ${settings.user}`;
  const raw = redactSecret(e.message ?? String(error), settings.password);
  switch (e.code) {
    case '28P01':
      return `login refused for user "${settings.user}" at ${where}: wrong password. Check the password in DATABASE_URL`;
    case '28000':
      return `login refused at ${where}: ${raw}. Check pg_hba.conf and the user in DATABASE_URL`;
    case '3D000':
      return `database "${settings.database}" does not exist on ${settings.host}:${settings.port}. Create it, or fix the database name in DATABASE_URL`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve host "${settings.host}" (${e.code}). Check the host in DATABASE_URL`;
    case 'ECONNREFUSED':
      return `connection refused by ${settings.host}:${settings.port}: is Postgres running and listening there?`;
    default:
      return `cannot connect to ${where}: ${raw}`;
  }
}

export interface ConnectOptions {
  readonly waitMs: number;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/**
 * Connects, retrying with backoff while errors may pass and the wait lasts; fails at once on
 * errors that will not pass (bad password, missing database, TLS). Throws ConnectError (exit 3).
 */
export async function connect(
  settings: ConnectionSettings,
  options: ConnectOptions,
): Promise<pg.Client> {
  const started = Date.now();
  const deadline = started + options.waitMs;
  let attempt = 0;
  let delay = 100;
  for (;;) {
    attempt++;
    const remaining = deadline - Date.now();
    // Pipelined: a query goes out when it is made, not after the answer to the one before, so
    // that reads made together cost one round trip (each still ends with its own Sync).
    const client = new pg.Client({
      ...clientOptions(settings, Math.min(Math.max(remaining, 1000), 10_000)),
      pipeline: true,
    });
    client.on('error', () => undefined);
    // An abort (a signal, the deadline, or the caller dropping the attempt) ends it at once.
    const drop = (): void => {
      client.connection.stream.destroy();
    };
    options.signal?.addEventListener('abort', drop, { once: true });
    try {
      if (options.signal?.aborted) throw new Error('connecting was aborted');
      await client.connect();
      options.logger.info(
        {
          event: 'connect',
          durationMs: Date.now() - started,
          attempts: attempt,
          database: settings.redacted,
        },
        'connected',
      );
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      throwIfAborted(options.signal);
      const message = describeConnectError(error, settings);
      const left = deadline - Date.now();
      if (!isTransientConnectError(error) || left <= 0) {
        const waited = isTransientConnectError(error)
          ? ` (gave up after ${formatDuration(Date.now() - started)}, ${attempt} attempts; raise --wait to wait longer)`
          : '';
        throw new ConnectError(`${message}${waited}`, {
          details: { sqlstate: (error as { code?: string }).code, attempts: attempt },
        });
      }
      options.logger.warn(
        { event: 'connect.retry', attempt, retryInMs: Math.min(delay, left) },
        message,
      );
      await sleep(Math.min(delay, left), options.signal);
      delay = Math.min(delay * 2, 2000);
    } finally {
      options.signal?.removeEventListener('abort', drop);
    }
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    throw reason instanceof PreflightError
      ? reason
      : new PreflightError('aborted', ExitCode.unreachable, 'connecting was aborted');
  }
}
