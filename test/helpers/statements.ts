import pg from 'pg';

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

/**
 * Records the text of every statement that any pg client is sent from now on, those a command
 * opens itself included; `restore` puts pg's own query back.
 */
export function recordEveryClient(): { sent: string[]; restore: () => void } {
  const prototype = pg.Client.prototype as unknown as Record<'query', unknown>;
  const query = prototype.query as (...args: unknown[]) => unknown;
  const sent: string[] = [];
  prototype.query = function (this: pg.Client, text: unknown, ...rest: unknown[]) {
    if (typeof text === 'string') sent.push(text);
    else if (typeof (text as { text?: unknown } | null)?.text === 'string') {
      sent.push((text as { text: string }).text);
    }
    return query.call(this, text, ...rest);
  };
  return {
    sent,
    restore: () => {
      prototype.query = query;
    },
  };
}
