import type pg from 'pg';

/*
 * The server's `server_version_num`, as the session read it when it opened (see openSession),
 * so that a query text that depends on it costs no round trip of its own. Read from the server
 * itself: a pooler's announced version could be another one.
 */

const known = new WeakMap<object, number>();

/** Records `client`'s server version (`server_version_num`, 150020 for 15.20). */
export function rememberServerVersion(client: pg.ClientBase, versionNum: number): void {
  if (Number.isSafeInteger(versionNum) && versionNum > 0) known.set(client, versionNum);
}

/** The server version recorded for `client`, if any. */
export function knownServerVersion(client: pg.ClientBase): number | undefined {
  return known.get(client);
}
