import pg from 'pg';
import { isPipelined } from '../connection/session.js';
import { firstKey } from '../migrations/lexer.js';
import type { Finding } from '../report/findings.js';
import type { Assertion } from './types.js';

const SAVEPOINT = 'preflight_assertion';

/**
 * Runs each assertion read-only and returns one error finding per assertion that is not true:
 * false, NULL, not exactly one row with one boolean column, or a query error (never thrown).
 * Assertions run inside `BEGIN READ ONLY` ... `ROLLBACK`, each in its own savepoint that is
 * rolled back, so none can write or leave state for the next. On a pipelined client, when every
 * assertion is a query (nothing that could end the transaction), they are all sent at once in
 * that transaction, without savepoints (runTogether). Call it outside a transaction; errors of
 * the connection itself (not of an assertion) are thrown.
 */
export async function runAssertions(
  client: pg.ClientBase,
  assertions: readonly Assertion[],
): Promise<Finding[]> {
  if (assertions.length === 0) return [];
  if (isPipelined(client) && assertions.every((a) => QUERY_KEYS.has(firstKey(a.sql) ?? ''))) {
    return runTogether(client, assertions);
  }
  return runOneByOne(client, assertions);
}

/** Each assertion in its own savepoint of one read-only transaction, one after the other. */
async function runOneByOne(
  client: pg.ClientBase,
  assertions: readonly Assertion[],
): Promise<Finding[]> {
  if (assertions.length === 0) return [];
  const findings: Finding[] = [];
  await client.query('BEGIN TRANSACTION READ ONLY');
  try {
    for (const assertion of assertions) {
      const problem = await runOne(client, assertion);
      if (problem !== undefined) findings.push(failure(assertion, problem));
    }
  } finally {
    await client.query('ROLLBACK');
  }
  return findings;
}

/** How a query starts; none of these can end or change the transaction it runs in. */
const QUERY_KEYS = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE', '(']);

/**
 * Every assertion at once, in one read-only transaction and one round trip: for queries only
 * (QUERY_KEYS), which cannot end that transaction. An error aborts the transaction, so the
 * assertions after the first that could not run are run again, one by one (runOneByOne).
 */
async function runTogether(
  client: pg.ClientBase,
  assertions: readonly Assertion[],
): Promise<Finding[]> {
  const { ran, outcomes } = await sendTogether(client, assertions);
  // The transaction itself failed (the connection): one by one, which throws what is wrong.
  if (!ran) return runOneByOne(client, assertions);
  const findings: Finding[] = [];
  for (const [i, assertion] of assertions.entries()) {
    const outcome = outcomes[i];
    if (outcome?.status !== 'fulfilled') {
      const problem = { message: `could not run: ${describeError(outcome?.reason)}` };
      findings.push(failure(assertion, problem));
      return [...findings, ...(await runOneByOne(client, assertions.slice(i + 1)))];
    }
    const problem = judge(outcome.value);
    if (problem !== undefined) findings.push(failure(assertion, problem));
  }
  return findings;
}

/**
 * runAssertions ahead of need (see run): all at once, as runTogether sends them, and nothing sent
 * after that, so that whatever the caller sends next runs after them. Resolves to their findings
 * when every one of them ran, and to undefined otherwise (not a pipelined client, an assertion
 * that is not a plain query, one that could not run, a failed transaction): the caller then runs
 * them with runAssertions. Never rejects.
 */
export async function runAssertionsAhead(
  client: pg.ClientBase,
  assertions: readonly Assertion[],
): Promise<Finding[] | undefined> {
  if (assertions.length === 0) return [];
  if (!isPipelined(client) || !assertions.every((a) => QUERY_KEYS.has(firstKey(a.sql) ?? ''))) {
    return undefined;
  }
  const { ran, outcomes } = await sendTogether(client, assertions);
  if (!ran) return undefined;
  const findings: Finding[] = [];
  for (const [i, assertion] of assertions.entries()) {
    const outcome = outcomes[i];
    if (outcome?.status !== 'fulfilled') return undefined;
    const problem = judge(outcome.value);
    if (problem !== undefined) findings.push(failure(assertion, problem));
  }
  return findings;
}

/** BEGIN READ ONLY, every assertion and ROLLBACK, sent at once; whether both ends ran, and each outcome. */
async function sendTogether(
  client: pg.ClientBase,
  assertions: readonly Assertion[],
): Promise<{ ran: boolean; outcomes: PromiseSettledResult<pg.QueryResult>[] }> {
  const begin = client.query('BEGIN TRANSACTION READ ONLY');
  const each = assertions.map((a) =>
    client.query({ text: a.sql, queryMode: 'extended' } as pg.QueryConfig),
  );
  const end = client.query('ROLLBACK');
  const [began, ended, ...outcomes] = await Promise.allSettled([begin, end, ...each]);
  return { ran: began?.status === 'fulfilled' && ended?.status === 'fulfilled', outcomes };
}

interface Problem {
  readonly message: string;
  readonly have?: unknown;
}

/** The problem with one assertion, or undefined when it holds. */
async function runOne(client: pg.ClientBase, assertion: Assertion): Promise<Problem | undefined> {
  await client.query(`SAVEPOINT ${SAVEPOINT}`);
  let problem: Problem | undefined;
  try {
    // The extended protocol takes a single statement, so `select true; delete ...` is refused.
    const query = { text: assertion.sql, queryMode: 'extended' } as pg.QueryConfig;
    problem = judge(await client.query(query));
  } catch (error) {
    problem = { message: `could not run: ${describeError(error)}` };
  }
  if (!(await restore(client))) {
    problem = {
      message:
        'ended or changed the transaction (COMMIT, ROLLBACK, RELEASE...): ' +
        'an assertion must be one query that returns a boolean',
    };
  }
  return problem;
}

/** Rolls back to the savepoint; if the assertion ended the transaction, starts a new one. */
async function restore(client: pg.ClientBase): Promise<boolean> {
  if (client.getTransactionStatus() !== 'I') {
    try {
      await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      return true;
    } catch {
      await client.query('ROLLBACK');
    }
  }
  await client.query('BEGIN TRANSACTION READ ONLY');
  return false;
}

function judge(result: pg.QueryResult): Problem | undefined {
  if (result.rows.length !== 1) {
    const count = result.rows.length;
    return { message: `returned ${count} row${count === 1 ? '' : 's'}, expected exactly one` };
  }
  if (result.fields.length !== 1) {
    return { message: `returned ${result.fields.length} columns, expected one boolean column` };
  }
  const [field] = result.fields;
  const value: unknown = field
    ? (result.rows[0] as Record<string, unknown>)[field.name]
    : undefined;
  if (value === true) return undefined;
  if (value === false) return { message: 'is false', have: false };
  if (value === null) return { message: 'returned NULL, expected true or false', have: null };
  return {
    message: `returned ${JSON.stringify(value)}, not a boolean: write it as a comparison, e.g. select count(*) = 5 from ...`,
    have: value,
  };
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.message} (SQLSTATE ${code})` : error.message;
}

function failure(assertion: Assertion, problem: Problem): Finding {
  return {
    kind: 'assertion-failed',
    category: 'assertions',
    object: assertion.name,
    severity: 'error',
    ...('have' in problem ? { have: problem.have, want: true } : {}),
    message: `assertion "${assertion.name}" ${problem.message}`,
  };
}
