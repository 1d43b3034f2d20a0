import type pg from 'pg';

/*
 * The server's version as the server announces it at login (ParameterStatus `server_version`),
 * so that a query text that depends on it costs no round trip of its own.
 */

const announced = new WeakMap<object, number>();

/** Records the version the server announces when `client` logs in; call before connecting. */
export function trackServerVersion(client: pg.Client): void {
  client.connection.on(
    'parameterStatus',
    (message: { parameterName?: string; parameterValue?: string }) => {
      if (message.parameterName !== 'server_version') return;
      const version = versionNumOf(message.parameterValue ?? '');
      if (version !== undefined) announced.set(client, version);
    },
  );
}

/** `15.20 (Debian 15.20-0+deb12u1)` → 150020; `18beta1` → 180000; undefined when unreadable. */
export function versionNumOf(text: string): number | undefined {
  const match = /^(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return undefined;
  const major = Number(match[1]);
  const minor = Number(match[2] ?? 0);
  // Before 10 the second number was part of the major version: 9.6.24 → 90624.
  if (major < 10) return undefined;
  return major * 10000 + minor;
}

/** The version `client`'s server announced, if it was tracked. */
export function announcedServerVersion(client: pg.ClientBase): number | undefined {
  return announced.get(client);
}
