import type pg from 'pg';

/**
 * Records the text of every statement `client` is sent from now on (as a string), for a test to
 * look at what went to the server; `restore` puts the client's own query back.
 */
export function recordStatements(client: pg.ClientBase): { sent: string[]; restore: () => void } {
  const sent: string[] = [];
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  client.query = ((text: unknown, ...rest: unknown[]) => {
    if (typeof text === 'string') sent.push(text);
    return query(text, ...rest);
  }) as typeof client.query;
  return { sent, restore: () => Reflect.deleteProperty(client, 'query') };
}
