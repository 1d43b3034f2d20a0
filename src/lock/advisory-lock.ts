import pg from 'pg';
import { formatDuration } from '../config/duration.js';
import { clientOptions } from '../connection/connect.js';
import { sleep } from '../connection/sleep.js';
import type { Session } from '../connection/session.js';
import { LockTimeoutError, PreflightError } from '../errors.js';
import type { Logger } from '../log/logger.js';

/** preflight's own lock key for the flat layout ("pref" in ASCII). */
export const PREFLIGHT_LOCK_KEY = 1886545254n;
/** The key `prisma migrate deploy` locks, so that preflight and Prisma exclude each other. */
export const PRISMA_LOCK_KEY = 72707369n;

const POLL_MS = 250;
const REPORT_EVERY_MS = 10_000;

/** Who holds the advisory lock, as pg_stat_activity tells it. */
export interface LockHolder {
  readonly pid: number;
  readonly applicationName: string;
  readonly since: string | null;
  readonly state: string | null;
  readonly query: string | null;
}

export interface LockOptions {
  readonly key: bigint;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** The first try, already sent (tryLock): the caller may have sent more behind it. */
  readonly first?: Promise<LockTry>;
}

/** One try of the lock: granted or not, and by which backend. */
export interface LockTry {
  readonly locked: boolean;
  readonly pid: number;
}

/** The lock as acquireLock got it: the granting backend, and whether the first try got it. */
export interface Granted {
  readonly pid: number;
  readonly atOnce: boolean;
}

/** One try of the lock, sent now: on a pipelined client, ahead of whatever is sent after it. */
export async function tryLock(client: pg.ClientBase, key: bigint): Promise<LockTry> {
  const result = await client.query<{ locked: boolean; pid: number }>(
    'SELECT pg_try_advisory_lock($1::bigint) AS locked, pg_backend_pid() AS pid',
    [key.toString()],
  );
  return { locked: result.rows[0]?.locked === true, pid: result.rows[0]?.pid ?? 0 };
}

/** Finds the session holding the advisory lock `key` (a single bigint key: classid/objid halves). */
export async function findLockHolder(
  session: Session,
  key: bigint,
): Promise<LockHolder | undefined> {
  const result = await session.client.query<{
    pid: number;
    application_name: string;
    since: Date | null;
    state: string | null;
    query: string | null;
  }>(
    `SELECT a.pid, a.application_name, COALESCE(a.xact_start, a.backend_start) AS since, a.state, left(a.query, 300) AS query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      LIMIT 1`,
    [key.toString()],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    pid: row.pid,
    applicationName: row.application_name,
    since: row.since ? row.since.toISOString() : null,
    state: row.state,
    query: row.query,
  };
}

/** Describes a holder in one line: `pid 4242 (preflight, active since ...): <query>`. */
export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'the holder has already gone';
  const app = holder.applicationName || 'no application name';
  const since = holder.since ? ` since ${holder.since}` : '';
  const query = holder.query ? `: ${holder.query.replace(/\s+/g, ' ').slice(0, 200)}` : '';
  return `pid ${holder.pid} (${app}, ${holder.state ?? 'unknown state'}${since})${query}`;
}

/**
 * Takes the session-level advisory lock by polling pg_try_advisory_lock (a waiter never blocks
 * CREATE INDEX CONCURRENTLY), logging the holder every 10 s. Returns the pid of the backend that
 * granted it (the session's own, unless a pooler moved the statement), and whether the first try
 * did. Throws LockTimeoutError (exit 4).
 */
export async function acquireLock(session: Session, options: LockOptions): Promise<Granted> {
  const started = Date.now();
  let nextReport = started;
  for (let attempt = 0; ; attempt++) {
    const result =
      attempt === 0 && options.first
        ? await options.first
        : await tryLock(session.client, options.key);
    if (result.locked) {
      session.lockHeld = true;
      options.logger.info(
        { event: 'lock.acquired', key: options.key.toString(), durationMs: Date.now() - started },
        'advisory lock acquired',
      );
      return { pid: result.pid, atOnce: attempt === 0 };
    }
    const waited = Date.now() - started;
    if (waited >= options.timeoutMs) {
      const holder = await findLockHolder(session, options.key);
      throw new LockTimeoutError(
        `advisory lock ${options.key} not acquired within ${formatDuration(options.timeoutMs)}: held by ${describeHolder(holder)}. ` +
          'Another deploy is probably migrating; if that session is stuck, end it with SELECT pg_terminate_backend(pid), or raise --lock-timeout',
        { holder },
      );
    }
    if (Date.now() >= nextReport) {
      const holder = await findLockHolder(session, options.key);
      options.logger.info(
        { event: 'lock.wait', waitedMs: waited, holder },
        `waiting for the advisory lock, held by ${describeHolder(holder)}`,
      );
      nextReport = Date.now() + REPORT_EVERY_MS;
    }
    await sleep(Math.min(POLL_MS, Math.max(1, options.timeoutMs - waited)), options.signal);
  }
}

/** Releases the lock; a failure here is harmless because closing the connection releases it too. */
export async function releaseLock(session: Session, key: bigint, logger: Logger): Promise<void> {
  try {
    await session.client.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
    session.lockHeld = false;
    logger.debug({ event: 'lock.released', key: key.toString() }, 'advisory lock released');
  } catch {
    logger.debug({ event: 'lock.release-skipped' }, 'lock released by closing the connection');
  }
}

/** The exit-2 error for a pooler in transaction mode, with what gave it away. */
function poolerError(evidence: string): PreflightError {
  return new PreflightError(
    'pooler',
    2,
    `${evidence}: a connection pooler in transaction mode (PgBouncer) cannot hold a session advisory lock. ` +
      'Point preflight at the database directly (on DigitalOcean: the database URL, not the connection pool URL), or use a pool in session mode',
  );
}

/** Rounds of (own check, probe): a pool in transaction mode under contention may hide once, rarely thrice. */
const PROBE_ROUNDS = 3;

const PROBE_SQL = `WITH probe AS MATERIALIZED (SELECT pg_backend_pid() AS pid, pg_try_advisory_lock($1::bigint) AS granted)
  SELECT pid, granted, CASE WHEN granted THEN pg_advisory_unlock($1::bigint) END AS undone FROM probe`;

const HELD_SQL = `SELECT pg_backend_pid() AS pid, EXISTS (
    SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
      AND objsubid = 1 AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid
  ) AS held`;

/** Whether this session's own statement still runs on its backend, which holds the lock. */
async function checkOwnBackend(session: Session, key: bigint): Promise<PreflightError | undefined> {
  const result = await session.client.query<{ pid: number; held: boolean }>(HELD_SQL, [
    key.toString(),
  ]);
  const row = result.rows[0];
  if (row && row.pid === session.pid && row.held) return undefined;
  return poolerError(
    `the connection changed backend under preflight (server pid ${session.pid} became ${row?.pid ?? 'unknown'})`,
  );
}

/** From a second connection: whether it shares the session's backend or can take the lock too. */
async function probe(
  side: pg.Client,
  session: Session,
  key: bigint,
): Promise<PreflightError | undefined> {
  const row = (await side.query<{ pid: number; granted: boolean }>(PROBE_SQL, [key.toString()]))
    .rows[0];
  if (row?.pid === session.pid) {
    return poolerError(
      `a second connection was served by the same server process as preflight's session (pid ${session.pid})`,
    );
  }
  if (row?.granted) {
    return poolerError(
      `a second connection could take the advisory lock ${key} that preflight's session holds`,
    );
  }
  return undefined;
}

const HOLDS = `FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
   WHERE l.locktype = 'advisory' AND l.granted AND l.pid = $2 AND l.objsubid = 1
     AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid`;

/** Unlocks when the statement lands on the backend that holds the lock; says whether it is still held. */
const UNLOCK_IF_THERE = `SELECT EXISTS (SELECT 1 ${HOLDS}) AS held,
  CASE WHEN pg_backend_pid() = $2 THEN (SELECT false FROM pg_advisory_unlock_all()) END AS unlocked`;

/** Ends the backend that holds the lock, only while it is idle (serving no client of the pool). */
const END_IF_IDLE = `SELECT EXISTS (SELECT 1 ${HOLDS}) AS held,
  (SELECT pg_terminate_backend(l.pid) ${HOLDS} AND a.state = 'idle') AS ended`;

/**
 * Behind a pool in transaction mode the lock stays with the pooled backend that granted it, and
 * would block every later deploy. Statements sent through the pool land on it soon (PgBouncer
 * reuses the last-used server first): keep sending the unlock from both connections for ~1 s;
 * only then end that backend while it is idle. Returns whether the lock is gone.
 */
async function releaseStrayLock(
  clients: readonly pg.ClientBase[],
  key: bigint,
  lockPid: number,
): Promise<boolean> {
  const params = [key.toString(), lockPid];
  for (let attempt = 0; attempt < 60; attempt++) {
    const client = clients[attempt % clients.length] as pg.ClientBase;
    const sql = attempt < 40 ? UNLOCK_IF_THERE : END_IF_IDLE;
    const row = (await client.query<{ held: boolean }>(sql, params).catch(() => undefined))
      ?.rows[0];
    if (row && !row.held) return true;
    await sleep(25);
  }
  return false;
}

/**
 * Checks that the lock is still ours on this very backend, and that no other client connection
 * can share that backend; throws (exit 2) behind a pooler in transaction mode, where statements
 * land on other backends (or other clients on ours) and a session lock protects nothing.
 *
 * The second connection tries to take the lock too (giving it back in the same statement). On a
 * direct connection or a pool in session mode it is refused and runs elsewhere. Behind a pool in
 * transaction mode, the backend that holds our lock goes back to the pool after each statement
 * and PgBouncer hands the last-used server to the next client first: the probe lands on our pid,
 * or, when another client took it meanwhile, our own next statement moves. Each round checks
 * both, right after each other. `lockPid` is the backend that granted the lock (acquireLock).
 *
 * A direct connection (Session.direct: the server accepted preflight's own TCP connection) has
 * no pooler to find, and is not probed.
 */
export async function assertLockHeld(
  session: Session,
  key: bigint,
  logger?: Logger,
  lockPid = session.pid,
): Promise<void> {
  if (session.direct && lockPid === session.pid) {
    logger?.debug(
      { event: 'lock.direct' },
      'connected to the server itself, with no pooler between: the advisory lock is held by this session',
    );
    return;
  }
  // Short timeouts: in a full session-mode pool the probe may wait for a server that the replicas
  // waiting for our lock occupy; then it is skipped rather than waited for.
  const side = new pg.Client({ ...clientOptions(session.settings, 3000), query_timeout: 2000 });
  side.on('error', () => undefined);
  let probing = await side.connect().then(
    () => true,
    () => false,
  );
  const skip = (): void =>
    logger?.warn(
      { event: 'lock.probe-skipped' },
      'could not use a second connection to check that the advisory lock is held by this session alone',
    );
  if (!probing) skip();
  try {
    for (let round = 0; round < PROBE_ROUNDS; round++) {
      let problem = await checkOwnBackend(session, key);
      if (!problem && probing) {
        problem = await probe(side, session, key).catch(() => {
          probing = false;
          skip();
          return undefined;
        });
      }
      if (problem) {
        const clients = probing ? [session.client, side] : [session.client];
        if (!(await releaseStrayLock(clients, key, lockPid))) {
          logger?.error(
            { event: 'lock.stray', pid: lockPid },
            `the pooled server process ${lockPid} still holds advisory lock ${key}: end it with SELECT pg_terminate_backend(${lockPid})`,
          );
        }
        throw problem;
      }
      if (!probing) break;
    }
  } finally {
    await side.end().catch(() => undefined);
  }
}
