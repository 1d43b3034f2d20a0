import type pg from 'pg';
import { catalogQuery } from '../../src/schema/introspect-queries.js';

/** A row of a kind whose definitions the catalog query builds itself for the plain ones. */
export interface DefinitionRow {
  schema: string;
  relation?: string;
  name: string;
  definition: string | null;
}

/**
 * The objects of `kind` whose definition the catalog query of `schemas` builds itself, as `key`
 * names them, sorted: the query with `fallback` (the server function it calls for every other
 * object) replaced by NULL, run with the search path the read sets (the names it prints depend
 * on it).
 */
export async function builtByQuery(
  client: pg.Client,
  version: number,
  schemas: readonly string[],
  kind: 'indexes' | 'constraints' | 'triggers',
  fallback: string,
  key: (row: DefinitionRow) => string,
): Promise<string[]> {
  const literal = `ARRAY[${schemas.map((s) => client.escapeLiteral(s)).join(', ')}]::text[]`;
  const original = catalogQuery(literal, version, [kind]);
  const query = original.replace(fallback, 'NULL');
  if (query === original) throw new Error(`the ${kind} query does not call ${fallback}`);
  await client.query(
    `SET search_path = ${schemas.map((s) => client.escapeIdentifier(s)).join(', ')}`,
  );
  try {
    const { rows } = await client.query<{ catalog: string }>(query);
    const read = JSON.parse(rows[0]?.catalog ?? '{}') as Record<string, DefinitionRow[]>;
    return (read[kind] ?? [])
      .filter((row) => row.definition !== null)
      .map(key)
      .sort();
  } finally {
    await client.query('RESET search_path');
  }
}
