import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { adminUrl, createTestDatabase } from '../helpers/db.js';
import { runCli, scratchDir } from '../helpers/cli.js';

describe('preflight snapshot', () => {
  it('--from-migrations --check passes on the repository', async () => {
    const result = await runCli(['snapshot', '--from-migrations', '--check'], {
      env: { DATABASE_URL: adminUrl() },
    });
    expect(result.stderr).toContain('SNAPSHOT DONE');
    expect(result.exitCode).toBe(0);
    expect(result.all).toMatch(/is up to date/);
  });

  it('--check fails naming what differs after a migration changed without a new snapshot', async () => {
    const dir = scratchDir({ migrations: true, seeds: true });
    const last = path.join(dir, 'migrations', '0012_granular_role_permissions.sql');
    appendFileSync(
      last,
      '\nALTER TABLE team_roles ADD COLUMN can_export_data boolean NOT NULL DEFAULT false;\n',
    );
    const result = await runCli(['snapshot', '--from-migrations', '--check'], {
      cwd: dir,
      env: { DATABASE_URL: adminUrl() },
    });
    expect(result.exitCode).toBe(8);
    expect(result.all).toMatch(/migrations\/expected-schema.json is stale/);
    expect(result.all).toContain('public.team_roles.can_export_data');
  });

  it('leaves no scratch database behind', async () => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: adminUrl() });
    await client.connect();
    try {
      await runCli(['snapshot', '--from-migrations', '--check'], {
        env: { DATABASE_URL: adminUrl() },
      });
      const { rows } = await client.query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'preflight_snapshot_%'",
      );
      expect(rows).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it('writes the file from the connected database, keeping the assertions of the existing file', async () => {
    const db = await createTestDatabase();
    try {
      const dir = scratchDir({ migrations: true, seeds: true });
      expect((await runCli(['run'], { cwd: dir, env: { DATABASE_URL: db.url } })).exitCode).toBe(0);
      await db.query('CREATE TABLE audit_trail (id bigint PRIMARY KEY, note text)');
      const out = path.join(dir, 'snap.json');
      const result = await runCli(['snapshot', '--out', out], {
        cwd: dir,
        env: { DATABASE_URL: db.url },
      });
      expect(result.exitCode).toBe(0);
      const written = JSON.parse(readFileSync(out, 'utf8')) as {
        exhaustive: boolean;
        tables: Record<string, unknown>;
        assertions: unknown[];
      };
      expect(written.exhaustive).toBe(true);
      expect(Object.keys(written.tables)).toContain('public.audit_trail');
      expect(Object.keys(written.tables)).not.toContain('public.preflight_migrations');
      expect(written.assertions.length).toBeGreaterThan(0);
    } finally {
      await db.drop();
    }
  });
});
