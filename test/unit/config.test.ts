import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from '../../src/cli/args.js';
import { resolveConfig, type Env } from '../../src/config/resolve-config.js';
import { parseDuration } from '../../src/config/duration.js';
import { redactUrl } from '../../src/config/database-url.js';
import { ConfigError } from '../../src/errors.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function workdir(dotenv?: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'preflight-config-'));
  mkdirSync(path.join(dir, 'migrations'));
  if (dotenv !== undefined) writeFileSync(path.join(dir, '.env'), dotenv);
  return dir;
}

function resolve(argv: string[], env: Env, cwd = workdir()) {
  return resolveConfig({ args: parseArgs(argv), env, cwd, isTty: false });
}

function problems(argv: string[], env: Env, cwd = workdir()): readonly string[] {
  try {
    resolve(argv, env, cwd);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['250', 250],
    ['1.5s', 1500],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', 'soon', '-1s', '5 days', '1e3', '99999999999999'])('%j is rejected', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
});

describe('resolveConfig precedence', () => {
  const url = (db: string): string => `postgres://app:pw@db.internal:5432/${db}`;

  it('takes the flag over the environment over .env over the default', () => {
    const cwd = workdir(
      'DATABASE_URL=postgres://a:b@dotenv:5432/fromdotenv\nPREFLIGHT_WAIT=7s\nPREFLIGHT_LOCK_TIMEOUT=9s\n',
    );
    const config = resolve(
      ['run', '--wait', '3s'],
      { DATABASE_URL: url('fromenv'), PREFLIGHT_WAIT: '5s' },
      cwd,
    );
    expect(config.database?.database).toBe('fromenv');
    expect(config.waitMs).toBe(3000);
    expect(config.lockTimeoutMs).toBe(9000);
    expect(config.ddlLockTimeoutMs).toBe(5000);
    expect(config.statementTimeoutMs).toBeUndefined();
  });

  it('uses .env when the environment does not set a variable, and never overrides one that is set', () => {
    const cwd = workdir('DATABASE_URL=postgres://a:b@dotenv:5432/fromdotenv\n');
    expect(resolve(['run'], {}, cwd).database?.database).toBe('fromdotenv');
    expect(resolve(['run'], { DATABASE_URL: url('real') }, cwd).database?.database).toBe('real');
  });

  it('prefers PREFLIGHT_DATABASE_URL to DATABASE_URL, and falls back to libpq variables', () => {
    expect(
      resolve(['run'], { PREFLIGHT_DATABASE_URL: url('mine'), DATABASE_URL: url('app') }).database
        ?.database,
    ).toBe('mine');
    const pgEnv = resolve(['run'], {
      PGHOST: 'h',
      PGPORT: '6543',
      PGUSER: 'u',
      PGPASSWORD: 'p',
      PGDATABASE: 'd',
    });
    expect(pgEnv.database).toMatchObject({
      host: 'h',
      port: 6543,
      user: 'u',
      password: 'p',
      database: 'd',
    });
    expect(pgEnv.database?.redacted).not.toContain(':p@');
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(resolve(['run'], { DATABASE_URL: url('x') }))).toBe(true);
  });
});

describe('resolveConfig problems', () => {
  it('reports every problem together', () => {
    const found = problems(
      ['run', '--wait', 'soon', '--log-format', 'xml', '--migrations', '/nonexistent/dir'],
      {
        DATABASE_URL: 'mysql://u:p@h/d',
        PREFLIGHT_LOCK_TIMEOUT: 'forever',
      },
    );
    expect(found).toHaveLength(5);
    expect(found.join('\n')).toMatch(/--wait: expected a duration .* got "soon"/);
    expect(found.join('\n')).toMatch(
      /PREFLIGHT_LOCK_TIMEOUT: expected a duration .* got "forever"/,
    );
    expect(found.join('\n')).toMatch(/log format: expected json or pretty, got "xml"/);
    expect(found.join('\n')).toMatch(/migrations directory \/nonexistent\/dir does not exist/);
    expect(found.join('\n')).toMatch(/scheme "mysql"/);
  });

  it('asks for a database when none is given', () => {
    expect(problems(['run'], {})[0]).toMatch(/no database given: set DATABASE_URL/);
  });

  it('never shows the password of a malformed URL', () => {
    const found = problems(['run'], {
      DATABASE_URL: 'postgres://app:Sup3rSecret@host:notaport/db',
    }).join('\n');
    expect(found).not.toContain('Sup3rSecret');
  });

  it('rejects an unknown sslmode', () => {
    expect(problems(['run'], { DATABASE_URL: 'postgres://a@h/d?sslmode=maybe' })[0]).toMatch(
      /sslmode: expected one of .* got "maybe"/,
    );
  });
});

describe('TLS options', () => {
  it('uses the CA from DATABASE_CA_CERT together with sslmode in the URL', () => {
    const config = resolve(['run'], {
      DATABASE_URL: 'postgres://a:b@h:25060/d?sslmode=require',
      DATABASE_CA_CERT: CA,
    });
    expect(config.database?.ssl).toMatchObject({ ca: CA.trim(), rejectUnauthorized: true });
  });

  it('verify-full checks the host name; verify-ca does not', () => {
    const full = resolve(['run'], {
      DATABASE_URL: 'postgres://a@h/d?sslmode=verify-full',
      DATABASE_CA_CERT: CA,
    });
    expect(full.database?.ssl).toEqual({ ca: CA.trim(), rejectUnauthorized: true });
    const ca = resolve(['run'], {
      DATABASE_URL: 'postgres://a@h/d?sslmode=verify-ca',
      DATABASE_CA_CERT: CA,
    });
    expect(ca.database?.ssl).toMatchObject({ ca: CA.trim(), rejectUnauthorized: true });
    expect(typeof (ca.database?.ssl as { checkServerIdentity?: unknown }).checkServerIdentity).toBe(
      'function',
    );
  });

  it('require without a CA encrypts without verifying; disable turns TLS off', () => {
    expect(
      resolve(['run'], { DATABASE_URL: 'postgres://a@h/d?sslmode=require' }).database?.ssl,
    ).toEqual({ rejectUnauthorized: false });
    expect(
      resolve(['run'], { DATABASE_URL: 'postgres://a@h/d?sslmode=disable' }).database?.ssl,
    ).toBe(false);
  });

  it('reads the CA from a PGSSLROOTCERT file', () => {
    const dir = workdir();
    writeFileSync(path.join(dir, 'ca.pem'), CA);
    const config = resolve(
      ['run'],
      {
        DATABASE_URL: 'postgres://a@h/d?sslmode=verify-full',
        PGSSLROOTCERT: path.join(dir, 'ca.pem'),
      },
      dir,
    );
    expect(config.database?.ssl).toMatchObject({ ca: CA });
  });
});

describe('redactUrl', () => {
  it.each([
    ['postgres://u:secret@h:5432/d', 'postgres://u:*****@h:5432/d'],
    ['connect to postgresql://u:p%40ss@h/d now', 'connect to postgresql://u:*****@h/d now'],
    ['host=h password=secret user=u', 'host=h password=***** user=u'],
    ['postgres://u@h/d', 'postgres://u@h/d'],
    ['bad URL "postgres://u:se cret@h/d"', 'bad URL "postgres://u:*****@h/d"'],
  ])('%s', (input, output) => expect(redactUrl(input)).toBe(output));
});

describe('Prisma ?schema=', () => {
  it('becomes the search_path of every connection', () => {
    const config = resolve(['run'], { DATABASE_URL: 'postgres://a@h/d?schema=tenant%20one' });
    expect(config.database?.schema).toBe('tenant one');
  });
});
