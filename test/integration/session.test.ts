import { assertLockHeld } from '../../src/lock/advisory-lock.js';
import { knownServerVersion } from '../../src/connection/server-version.js';
import { isDirect, type Session } from '../../src/connection/session.js';
import { withSession } from '../../src/pipeline/session-scope.js';
import { commandContext } from '../helpers/context.js';
import { adminUrl } from '../helpers/db.js';
import { proxyTo, type CuttingProxy } from '../reliability/helpers/proxy.js';

const KEY = 4242424242n;

describe('isDirect: the server accepted our own TCP connection', () => {
  it.each([
    [{ address: '127.0.0.1', port: 5432 }, { addr: '127.0.0.1', port: 5432 }, true],
    [{ address: '::ffff:10.0.0.7', port: 25060 }, { addr: '10.0.0.7', port: 25060 }, true],
    [{ address: 'FE80::1', port: 5432 }, { addr: 'fe80::1', port: 5432 }, true],
    // A pooler on another port of the same host, or on another host.
    [{ address: '127.0.0.1', port: 6432 }, { addr: '127.0.0.1', port: 5432 }, false],
    [{ address: '10.0.0.8', port: 5432 }, { addr: '10.0.0.7', port: 5432 }, false],
    // A Unix socket on either side: nothing to compare.
    [{ address: '127.0.0.1', port: 5432 }, { addr: null, port: null }, false],
    [{}, { addr: '127.0.0.1', port: 5432 }, false],
  ])('%j against the server end %j: %s', (peer, server, direct) => {
    expect(isDirect(peer, server)).toBe(direct);
  });
});

describe('a session on a real server', () => {
  let proxy: CuttingProxy;
  beforeAll(async () => {
    proxy = await proxyTo(adminUrl());
  });
  afterAll(async () => {
    await proxy.close();
  });

  /** Opens a session on `url`, takes the lock, and runs the pooler check; its log and result. */
  async function lockAndCheck(url: string) {
    const { ctx, lines } = commandContext('status', url);
    const direct = await withSession(ctx, async (session: Session) => {
      const { rows } = await session.client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS locked',
        [KEY.toString()],
      );
      expect(rows[0]?.locked).toBe(true);
      await assertLockHeld(session, KEY, ctx.logger);
      await session.client.query('SELECT pg_advisory_unlock($1::bigint)', [KEY.toString()]);
      return session.direct;
    });
    return { direct, events: lines.map((l) => l.event) };
  }

  it('connected straight to Postgres: direct, so the lock needs no probe from a second connection', async () => {
    const { direct, events } = await lockAndCheck(adminUrl());
    expect(direct).toBe(true);
    expect(events).toContain('lock.direct');
  });

  it('through a TCP proxy: not direct, and the probe runs on a second connection', async () => {
    const before = proxy.stats.connections;
    const { direct, events } = await lockAndCheck(proxy.via(adminUrl()));
    expect(direct).toBe(false);
    expect(events).not.toContain('lock.direct');
    expect(events).not.toContain('lock.probe-skipped');
    expect(proxy.stats.connections - before).toBe(2);
  });

  it("records the server's version as it opens, for the catalog query (no round trip of its own)", async () => {
    const { ctx } = commandContext('status', adminUrl());
    const [recorded, actual] = await withSession(ctx, async (session: Session) => {
      const { rows } = await session.client.query<{ v: string }>(
        "SELECT current_setting('server_version_num') AS v",
      );
      return [knownServerVersion(session.client), Number(rows[0]?.v)];
    });
    expect(actual).toBeGreaterThanOrEqual(140000);
    expect(recorded).toBe(actual);
  });

  it('drops the connection being made when reading the files fails, and throws that error', async () => {
    const { ctx } = commandContext('status', proxy.via(adminUrl()));
    let ran = false;
    const failure = withSession(
      ctx,
      () => {
        ran = true;
        return Promise.resolve();
      },
      () => {
        throw new Error('a migration file cannot be read');
      },
    );
    await expect(failure).rejects.toThrow('a migration file cannot be read');
    expect(ran).toBe(false);
  });
});
