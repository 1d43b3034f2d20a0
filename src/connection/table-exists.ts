import type pg from 'pg';

/**
 * Whether the table `name` (unqualified) exists where a statement naming it would find it, by the
 * session's search path: a probe of about 1 ms on a new server process. A missing table is a
 * false, not an error, so that a database without it never logs a failed read of it.
 */
export async function tableExists(client: pg.ClientBase, name: string): Promise<boolean> {
  const { rows } = await client.query<{ exists: boolean }>(
    `SELECT pg_catalog.to_regclass(pg_catalog.quote_ident(${client.escapeLiteral(name)})) IS NOT NULL AS exists`,
  );
  return rows[0]?.exists === true;
}
