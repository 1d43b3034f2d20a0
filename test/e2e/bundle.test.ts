import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  BUNDLE,
  cleanEnv,
  logLines,
  REPO_MIGRATIONS,
  REPO_SEEDS,
  repoMigrationNames,
} from '../helpers/cli.js';

// The bundle is what the Docker image ships: dist/preflight.cjs alone, with migrations/ and
// seeds/ beside it, and no node_modules anywhere above it.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('bundle');
});
afterAll(async () => {
  await db.drop();
});

/** An empty directory holding only what the final image holds. */
function imageLikeDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'preflight-bundle-'));
  copyFileSync(BUNDLE, path.join(dir, 'preflight.cjs'));
  cpSync(REPO_MIGRATIONS, path.join(dir, 'migrations'), { recursive: true });
  cpSync(REPO_SEEDS, path.join(dir, 'seeds'), { recursive: true });
  return dir;
}

function noNodeModulesAbove(dir: string): boolean {
  for (let at = dir; ; at = path.dirname(at)) {
    if (existsSync(path.join(at, 'node_modules'))) return false;
    if (path.dirname(at) === at) return true;
  }
}

async function runBundle(dir: string, args: string[]) {
  return execa(process.execPath, [path.join(dir, 'preflight.cjs'), ...args], {
    cwd: dir,
    env: cleanEnv({ DATABASE_URL: db.url, NODE_PATH: '' }),
    extendEnv: false,
    reject: false,
  });
}

describe('dist/preflight.cjs on its own', () => {
  it('requires nothing but Node.js built-ins at run time', () => {
    // The file is a loader around the bundle's source (a string it hands over when required).
    const { SOURCE } = createRequire(import.meta.url)(BUNDLE) as { SOURCE: string };
    const loader = readFileSync(BUNDLE, 'utf8').replace(JSON.stringify(SOURCE), '""');
    expect(loader.length).toBeLessThan(4096);
    expect([...loader.matchAll(/require\('([^']+)'\)/g)].map((m) => m[1])).toEqual([
      'node:fs',
      'node:vm',
    ]);
    const required = [...SOURCE.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1] ?? '');
    expect(required).toContain('pg-native');
    const builtins = new Set(builtinModules);
    // pg-native: pg's optional binding, required only when `pg.native` is read (never).
    const packages = required.filter(
      (name) => !name.startsWith('node:') && !builtins.has(name) && name !== 'pg-native',
    );
    expect(packages).toEqual([]);
  });

  it('runs `preflight run` from an empty directory with only migrations/ and seeds/ beside it', async () => {
    const dir = imageLikeDir();
    expect(noNodeModulesAbove(dir)).toBe(true);
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const shown = await runBundle(dir, ['--version']);
    expect(shown.stdout).toBe(`preflight ${version}`);

    const first = await runBundle(dir, ['run']);
    expect(first.exitCode).toBe(0);
    expect(first.stderr).toContain('DATABASE IS IN SYNC');
    expect(
      logLines(String(first.stdout)).filter((l) => l.event === 'migration.applied'),
    ).toHaveLength(repoMigrationNames().length);
    const [roles] = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM team_roles WHERE is_system_role',
    );
    expect(roles?.n).toBe(5);
    const [templates] = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM notification_templates',
    );
    expect(templates?.n).toBe(5);

    const second = await runBundle(dir, ['run']);
    expect(second.exitCode).toBe(0);
    expect(logLines(String(second.stdout)).map((l) => l.event)).toContain(
      'migrations.none-pending',
    );
  });

  it('is compiled from the code cache the build made, which this Node.js accepts', async () => {
    expect(existsSync(`${BUNDLE}.cache`)).toBe(true);
    // What the loader does, in a process of its own (the test runner's flags are not preflight's).
    const check = `const { BUILD, SOURCE } = require(${JSON.stringify(BUNDLE)});
      const cache = require('node:fs').readFileSync(${JSON.stringify(`${BUNDLE}.cache`)});
      const header = cache.toString('latin1', 0, BUILD.length) === BUILD;
      const script = new (require('node:vm').Script)(SOURCE, { filename: 'x', cachedData: cache.subarray(BUILD.length) });
      console.log(JSON.stringify({ header, rejected: script.cachedDataRejected }));`;
    const { stdout } = await execa(process.execPath, ['-e', check], {
      env: cleanEnv({}),
      extendEnv: false,
    });
    expect(JSON.parse(stdout)).toEqual({ header: true, rejected: false });
  });

  it('runs the same with a code cache made for another build, or a damaged one', async () => {
    const cache = readFileSync(`${BUNDLE}.cache`);
    const otherBuild = Buffer.concat([Buffer.from('0'.repeat(64), 'latin1'), cache.subarray(64)]);
    const damaged = Buffer.concat([cache.subarray(0, 64), Buffer.alloc(4096, 7)]);
    for (const bytes of [otherBuild, damaged]) {
      const dir = imageLikeDir();
      writeFileSync(path.join(dir, 'preflight.cjs.cache'), bytes);
      const status = await runBundle(dir, ['status']);
      expect(status.stderr).toContain('PREFLIGHT STATUS');
      expect(status.exitCode).toBe(0);
      const bad = await runBundle(dir, ['status', '--lock-timeout', 'soon']);
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toContain('lock');
    }
  });
});
