import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo, tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../helpers/embedded.mjs';

/** Debian's package installs it here (CI installs it in .ci/run). */
export const PGBOUNCER = '/usr/sbin/pgbouncer';

export interface PgBouncer {
  readonly port: number;
  /** URL of `database` through the pool in the given mode. */
  url(database: string, mode: 'transaction' | 'session'): string;
  stop(): Promise<void>;
}

/** Whether pgbouncer can be started here. */
export function havePgBouncer(): boolean {
  return existsSync(PGBOUNCER);
}

/**
 * Starts PgBouncer in front of `serverUrl`'s server with two pools per database: `tx_<db>` in
 * transaction mode and `ss_<db>` in session mode. Clients log in with the server's user and
 * password (scram-sha-256, from a userlist); as root it runs as the `postgres` user.
 */
export async function startPgBouncer(
  serverUrl: string,
  databases: readonly string[],
): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const dir = mkdtempSync(path.join(tmpdir(), 'pgbouncer-'));
  const port = await freePort();
  const pools = databases.flatMap((db) =>
    (['transaction', 'session'] as const).map(
      (mode) =>
        `${mode === 'transaction' ? 'tx' : 'ss'}_${db} = host=${server.hostname} port=${server.port} dbname=${db} pool_mode=${mode}`,
    ),
  );
  writeFileSync(path.join(dir, 'userlist.txt'), `"${user}" "${password}"\n`, { mode: 0o600 });
  writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      ...pools,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      'max_client_conn = 200',
      'default_pool_size = 10',
      '',
    ].join('\n'),
  );
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const ids = await new Promise<{ uid: number; gid: number }>((resolve, reject) => {
      const child = spawn('id', ['-u', 'postgres']);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += String(d)));
      child.on('close', () => {
        const uid = Number(out.trim());
        if (Number.isInteger(uid) && uid > 0) resolve({ uid, gid: uid });
        else reject(new Error('no `postgres` user to run pgbouncer as'));
      });
    });
    for (const f of ['', 'userlist.txt', 'pgbouncer.ini'])
      chownSync(path.join(dir, f), ids.uid, -1);
  }
  const child: ChildProcess = spawn(
    PGBOUNCER,
    [...(asRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')],
    {
      stdio: 'ignore',
    },
  );
  const log = (): string => {
    try {
      return readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + 10_000;
  while (!log().includes('process up')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`pgbouncer did not start: ${log().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url(database, mode) {
      const u = new URL(serverUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      u.pathname = `/${mode === 'transaction' ? 'tx' : 'ss'}_${database}`;
      return u.toString();
    },
    async stop() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      });
    },
  };
}
