import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { logLines, runCli, scratchDir } from '../helpers/cli.js';

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase('pfp');
});
afterEach(async () => {
  await db.drop();
});

describe('progress while applying many migrations', () => {
  const dir = scratchDir();
  const count = 12;
  mkdirSync(path.join(dir, 'migrations'));
  for (let i = 1; i <= count; i++) {
    writeFileSync(
      path.join(dir, 'migrations', `${i}_table_${i}.sql`),
      `CREATE TABLE t${i} (id int);\n`,
    );
  }
  const args = ['migrate', '--migrations', path.join(dir, 'migrations')];

  it('shows `applied N/TOTAL` lines on a pretty terminal', async () => {
    const result = await runCli([...args, '--log-format', 'pretty'], {
      env: { DATABASE_URL: db.url },
      cwd: dir,
    });
    expect(result.exitCode).toBe(0);
    // eslint-disable-next-line no-control-regex
    const plain = result.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    for (let i = 1; i <= count; i++) {
      expect(plain).toContain(`applied ${i}/${count} ${i}_table_${i}.sql`);
    }
    expect(plain).not.toMatch(/^\{/m);
  });

  it('carries index and total on every migration.applied JSON line', async () => {
    const result = await runCli(args, { env: { DATABASE_URL: db.url }, cwd: dir });
    expect(result.exitCode).toBe(0);
    const applied = logLines(result.stdout).filter((l) => l.event === 'migration.applied');
    expect(applied.map((l) => [l.index, l.total])).toEqual(
      Array.from({ length: count }, (_, i) => [i + 1, count]),
    );
  });
});
