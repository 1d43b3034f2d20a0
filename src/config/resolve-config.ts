import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { ParsedArgs, ValueFlag } from '../cli/args.js';
import { ConfigError } from '../errors.js';
import type { Config, LogFormat, LogLevel, PathSetting } from './config.js';
import { LOG_LEVELS } from './config.js';
import { parseDuration } from './duration.js';
import {
  parseDatabaseUrl,
  redactUrl,
  SSL_MODES,
  type ConnectionSettings,
  type SslMode,
  type UrlParts,
} from './database-url.js';
import { buildTlsOptions, defaultSslMode } from './tls.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ResolveInput {
  readonly args: ParsedArgs;
  /** The process environment, passed in by the CLI entry (nothing else reads process.env). */
  readonly env: Env;
  readonly cwd: string;
  /** Whether stdout is a terminal (decides the default log format). */
  readonly isTty: boolean;
}

const NO_DATABASE = new Set(['new', 'help']);

/** Merges a `.env` file under the real environment: it never overrides a variable that is set. */
export function loadDotenv(cwd: string, env: Env): Env {
  const file = path.join(cwd, '.env');
  if (!existsSync(file)) return env;
  let parsed: Record<string, string>;
  try {
    parsed = parseDotenv(readFileSync(file));
  } catch (error) {
    throw new ConfigError([`cannot read ${file}: ${(error as Error).message}`]);
  }
  return {
    ...parsed,
    ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)),
  };
}

/** Resolves the configuration once; every problem is collected and thrown together as a ConfigError. */
export function resolveConfig(input: ResolveInput): Config {
  const env = loadDotenv(input.cwd, input.env);
  const problems: string[] = [];
  const { args } = input;
  const pick = (
    flag: ValueFlag,
    ...vars: string[]
  ): { value: string; from: string } | undefined => {
    const fromFlag = args.flags[flag];
    if (fromFlag !== undefined) return { value: fromFlag, from: `--${flag}` };
    for (const name of vars) {
      const value = env[name];
      if (value !== undefined && value !== '') return { value, from: name };
    }
    return undefined;
  };
  const duration = (
    flag: ValueFlag,
    variable: string,
    fallback: string | undefined,
  ): number | undefined => {
    const given = pick(flag, variable);
    const text = given?.value ?? fallback;
    if (text === undefined || /^(off|0|none)$/i.test(text)) return undefined;
    const ms = parseDuration(text);
    if (ms === undefined) {
      problems.push(
        `${given?.from ?? flag}: expected a duration such as 500ms, 30s, 15m or a number of milliseconds, got ${JSON.stringify(text)}`,
      );
    }
    return ms;
  };
  const pathSetting = (flag: ValueFlag, variable: string, fallback: string): PathSetting => {
    const given = pick(flag, variable);
    return {
      path: path.resolve(input.cwd, given?.value ?? fallback),
      explicit: given !== undefined,
    };
  };

  const migrations = pathSetting('migrations', 'PREFLIGHT_MIGRATIONS', 'migrations');
  const seeds = pathSetting('seeds', 'PREFLIGHT_SEEDS', 'seeds');
  const expect = pathSetting(
    'expect',
    'PREFLIGHT_EXPECT',
    path.join(path.relative(input.cwd, migrations.path) || '.', 'expected-schema.json'),
  );
  for (const [label, setting, kind] of [
    ['migrations directory', migrations, 'dir'],
    ['seeds directory', seeds, 'dir'],
    ['expected-schema file', expect, 'file'],
  ] as const) {
    const problem = checkPath(setting, kind, label);
    if (problem) problems.push(problem);
  }

  const waitMs = duration('wait', 'PREFLIGHT_WAIT', '60s') ?? 0;
  const lockTimeoutMs = duration('lock-timeout', 'PREFLIGHT_LOCK_TIMEOUT', '15m') ?? 0;
  const ddlLockTimeoutMs = duration('ddl-lock-timeout', 'PREFLIGHT_DDL_LOCK_TIMEOUT', '5s') ?? 0;
  const statementTimeoutMs = duration(
    'statement-timeout',
    'PREFLIGHT_STATEMENT_TIMEOUT',
    undefined,
  );
  const deadlineMs = duration('deadline', 'PREFLIGHT_DEADLINE', undefined);

  const logLevelText = (pick('log-level', 'LOG_LEVEL')?.value ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelText)) {
    problems.push(
      `log level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevelText)}`,
    );
  }
  const logFormatText =
    pick('log-format', 'LOG_FORMAT')?.value ?? (input.isTty ? 'pretty' : 'json');
  if (logFormatText !== 'json' && logFormatText !== 'pretty') {
    problems.push(`log format: expected json or pretty, got ${JSON.stringify(logFormatText)}`);
  }

  const database = NO_DATABASE.has(args.command)
    ? undefined
    : resolveDatabase(args, env, pick, problems);
  const commandProblems = checkCommandArgs(args);
  problems.push(...commandProblems);
  if (problems.length > 0) throw new ConfigError(problems);

  const reportPath = pick('report', 'PREFLIGHT_REPORT')?.value;
  return Object.freeze({
    command: args.command,
    cwd: input.cwd,
    database,
    migrations,
    seeds,
    expect,
    waitMs,
    lockTimeoutMs,
    ddlLockTimeoutMs,
    ddlRetries: 5,
    statementTimeoutMs,
    deadlineMs,
    logLevel: logLevelText as LogLevel,
    logFormat: logFormatText as LogFormat,
    reportPath: reportPath ? path.resolve(input.cwd, reportPath) : undefined,
    strict: args.switches.strict === true,
    fullVerify: args.switches['full-verify'] === true,
    exec: args.exec,
    name: args.positionals[0] ?? args.flags.applied ?? args.flags['rolled-back'] ?? args.flags.to,
    resolveAs:
      args.flags.applied !== undefined
        ? 'applied'
        : args.flags['rolled-back'] !== undefined
          ? 'rolled-back'
          : undefined,
    out: args.flags.out === undefined ? undefined : path.resolve(input.cwd, args.flags.out),
    fromMigrations: args.switches['from-migrations'] === true,
    check: args.switches.check === true,
    terminationLog: env.PREFLIGHT_TERMINATION_LOG ?? '/dev/termination-log',
  });
}

function checkPath(setting: PathSetting, kind: 'dir' | 'file', label: string): string | undefined {
  if (!setting.explicit) return undefined;
  try {
    const stat = statSync(setting.path);
    if (kind === 'dir' && !stat.isDirectory()) return `${label} ${setting.path} is not a directory`;
    if (kind === 'file' && !stat.isFile()) return `${label} ${setting.path} is not a file`;
  } catch {
    return `${label} ${setting.path} does not exist`;
  }
  return undefined;
}

function checkCommandArgs(args: ParsedArgs): string[] {
  const problems: string[] = [];
  if (args.command === 'new' && args.positionals.length === 0 && !args.switches.help) {
    problems.push('`preflight new` needs a NAME, e.g. `preflight new add_users_bio`');
  }
  if (args.command === 'resolve' && !args.switches.help) {
    const both = args.flags.applied !== undefined && args.flags['rolled-back'] !== undefined;
    const neither = args.flags.applied === undefined && args.flags['rolled-back'] === undefined;
    if (both || neither)
      problems.push(
        '`preflight resolve` needs exactly one of --applied NAME or --rolled-back NAME',
      );
  }
  if (args.command === 'baseline' && args.flags.to === undefined && !args.switches.help) {
    problems.push(
      '`preflight baseline` needs --to NAME (the last migration the database already has)',
    );
  }
  if (args.switches.check && !args.switches['from-migrations'] && args.command === 'snapshot') {
    // --check alone compares the connected database's snapshot with the committed file: allowed.
  }
  return problems;
}

type Pick = (flag: ValueFlag, ...vars: string[]) => { value: string; from: string } | undefined;

function resolveDatabase(
  args: ParsedArgs,
  env: Env,
  pick: Pick,
  problems: string[],
): ConnectionSettings | undefined {
  const given = pick('database-url', 'PREFLIGHT_DATABASE_URL', 'DATABASE_URL');
  let parts: UrlParts = {};
  if (given) {
    const parsed = parseDatabaseUrl(given.value.trim());
    if (typeof parsed === 'string') {
      problems.push(`${given.from}: ${parsed}`);
      return undefined;
    }
    parts = parsed;
  } else if (!env.PGHOST && !env.PGDATABASE && !env.PGUSER) {
    if (args.switches.help) return undefined;
    problems.push(
      'no database given: set DATABASE_URL (or PREFLIGHT_DATABASE_URL, or pass --database-url), e.g. postgres://user:password@host:5432/app',
    );
    return undefined;
  }
  const host = parts.host || env.PGHOST || 'localhost';
  const portText = parts.port || env.PGPORT || '5432';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    problems.push(`database port: expected 1-65535, got ${JSON.stringify(portText)}`);
  }
  const user = parts.user || env.PGUSER || 'postgres';
  const password = parts.password ?? env.PGPASSWORD;
  const database = parts.database || env.PGDATABASE || user;
  const ca = resolveCa(pick, env, parts, problems);
  const sslText = (parts.sslmode ?? env.PGSSLMODE ?? defaultSslMode(ca)).toLowerCase();
  if (!(SSL_MODES as readonly string[]).includes(sslText)) {
    problems.push(
      `sslmode: expected one of ${SSL_MODES.join(', ')}, got ${JSON.stringify(sslText)}`,
    );
    return undefined;
  }
  const sslmode = sslText as SslMode;
  const redacted = given
    ? redactUrl(given.value.trim())
    : `postgres://${encodeURIComponent(user)}${password ? ':*****' : ''}@${host}:${port}/${encodeURIComponent(database)}`;
  return Object.freeze({
    host,
    port,
    user,
    password,
    database,
    sslmode,
    ssl: buildTlsOptions(sslmode, ca),
    redacted,
    ...(parts.schema ? { schema: parts.schema } : {}),
  });
}

function resolveCa(pick: Pick, env: Env, parts: UrlParts, problems: string[]): string | undefined {
  const given = pick('ca-cert', 'DATABASE_CA_CERT');
  if (given) {
    const text = given.value.trim();
    if (text.startsWith('-----BEGIN')) return text;
    return readCaFile(given.from, text, problems);
  }
  const file = parts.sslrootcert ?? env.PGSSLROOTCERT;
  return file
    ? readCaFile(parts.sslrootcert ? 'sslrootcert' : 'PGSSLROOTCERT', file, problems)
    : undefined;
}

function readCaFile(from: string, file: string, problems: string[]): string | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    if (!text.includes('-----BEGIN')) {
      problems.push(`${from}: ${file} is not a PEM certificate (no -----BEGIN line)`);
      return undefined;
    }
    return text;
  } catch {
    problems.push(
      `${from}: expected PEM text or a readable certificate file, got ${JSON.stringify(file.slice(0, 80))}`,
    );
    return undefined;
  }
}
