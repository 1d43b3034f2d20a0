import {
  chmodSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { urlFor } from '../helpers/db.js';
import { BUNDLE, cleanEnv, logLines, scratchDir, type CliResult } from '../helpers/cli.js';
import {
  newTerminationLog,
  removeTerminationLog,
  scanInvocation,
} from '../helpers/secrets-scan.js';
import { errorMessage, outputProblems } from './helpers/outputs.js';
import {
  createDatabase,
  serverPassword,
  serverUrl,
  type ScratchDatabase,
} from './helpers/server.js';
import { writeSummary } from './helpers/summary.js';

// Bad input of every kind: each case gives its exit code and a message that names the problem,
// never exit 1, a stack trace or a password. A table: add a row for every new way to get it wrong.

/** A scratch project: a migrations folder with one good migration, an empty seeds folder. */
interface Project {
  readonly dir: string;
  readonly migrations: string;
  readonly seeds: string;
  /** URL of a fresh database (cases with `db`) or of one never created (cases that must not connect). */
  readonly url: string;
  write(relative: string, content: string | Buffer): string;
}

interface Case {
  readonly name: string;
  readonly exitCode: number;
  readonly message: RegExp;
  /** Extra arguments after `run --migrations M --seeds S`, or the whole command line. */
  readonly args?: (p: Project) => string[];
  readonly argv?: (p: Project) => string[];
  readonly env?: (p: Project) => Record<string, string>;
  readonly setup?: (p: Project) => void;
  /** Needs a real database (the case connects). */
  readonly db?: boolean;
  /** The database must be left as it was: the migration not applied, no table created. */
  readonly untouched?: boolean;
  /** Runs as an unprivileged user (so that file permissions apply even when the tests run as root). */
  readonly unprivileged?: boolean;
}

const WRONG_PASSWORD = 'Wr0ng-Pa55word-in-bad-input';
const withUrl = (url: string, change: (u: URL) => void): string => {
  const u = new URL(url);
  change(u);
  return u.toString();
};
const seedJson = (doc: unknown): string => `${JSON.stringify(doc, null, 2)}\n`;
const expectFile = (p: Project, doc: unknown): string[] => [
  '--expect',
  p.write('expected.json', typeof doc === 'string' ? doc : JSON.stringify(doc)),
];

const CASES: Case[] = [
  // DATABASE_URL and TLS
  {
    name: 'a URL without a scheme',
    exitCode: 2,
    message:
      /database URL "localhost:5432\/app" has scheme "localhost": expected postgres:\/\/ or postgresql:\/\//,
    env: () => ({ DATABASE_URL: 'localhost:5432/app' }),
  },
  {
    name: 'a malformed URL whose password has a space',
    exitCode: 2,
    message:
      /database URL "postgres:\/\/app:\*\*\*\*\*@db:54x\/app" is not a valid URL: expected postgres:\/\/user:\*\*\*\*\*@host:5432\/database/,
    env: () => ({ DATABASE_URL: `postgres://app:with space ${WRONG_PASSWORD}@db:54x/app` }),
  },
  {
    name: 'a password with a space, not URL-encoded',
    exitCode: 3,
    message: /connection refused by 127\.0\.0\.1:9/,
    env: () => ({ DATABASE_URL: `postgres://app:with space ${WRONG_PASSWORD}@127.0.0.1:9/app` }),
    args: () => ['--wait', '1s'],
  },
  {
    name: 'a URL of another scheme',
    exitCode: 2,
    message: /has scheme "mysql": expected postgres:\/\/ or postgresql:\/\//,
    env: () => ({ DATABASE_URL: `mysql://app:${WRONG_PASSWORD}@db:3306/app` }),
  },
  {
    name: 'a port out of range',
    exitCode: 2,
    message: /is not a valid URL/,
    env: () => ({ DATABASE_URL: `postgres://app:${WRONG_PASSWORD}@db:99999/app` }),
  },
  {
    name: 'a port that is not a number',
    exitCode: 2,
    message: /is not a valid URL/,
    env: () => ({ DATABASE_URL: `postgres://app:${WRONG_PASSWORD}@db:abc/app` }),
  },
  {
    name: 'an unclosed IPv6 bracket',
    exitCode: 2,
    message: /is not a valid URL/,
    env: () => ({ DATABASE_URL: `postgres://app:${WRONG_PASSWORD}@[::1/app` }),
  },
  {
    name: 'an empty DATABASE_URL',
    exitCode: 2,
    message: /no database given: set DATABASE_URL/,
    env: () => ({ DATABASE_URL: '' }),
  },
  {
    name: '--database-url without a value',
    exitCode: 2,
    message: /flag --database-url needs a value/,
    argv: () => ['run', '--database-url'],
  },
  {
    name: 'an unknown sslmode',
    exitCode: 2,
    message:
      /sslmode: expected one of disable, allow, prefer, require, no-verify, verify-ca, verify-full, got "sometimes"/,
    env: (p) => ({
      DATABASE_URL: withUrl(p.url, (u) => u.searchParams.set('sslmode', 'sometimes')),
    }),
  },
  {
    name: 'an unknown PGSSLMODE',
    exitCode: 2,
    message: /sslmode: expected one of .* got "bogus"/,
    env: (p) => ({ DATABASE_URL: p.url, PGSSLMODE: 'bogus' }),
  },
  {
    name: 'a CA certificate file that does not exist',
    exitCode: 2,
    message:
      /--ca-cert: expected PEM text or a readable certificate file, got "\/nonexistent\/ca.pem"/,
    args: () => ['--ca-cert', '/nonexistent/ca.pem'],
  },
  {
    name: 'a CA certificate that is not PEM',
    exitCode: 2,
    message: /is not a PEM certificate/,
    args: (p) => ['--ca-cert', p.write('ca.txt', 'hello')],
  },
  {
    name: 'sslmode=require on a server without TLS',
    exitCode: 3,
    message: /cannot connect to .*: The server does not support SSL connections/,
    db: true,
    env: (p) => ({ DATABASE_URL: withUrl(p.url, (u) => u.searchParams.set('sslmode', 'require')) }),
  },
  {
    name: 'a wrong password',
    exitCode: 3,
    message: /login refused for user "postgres" .*wrong password|password authentication failed/,
    db: true,
    env: (p) => ({ DATABASE_URL: withUrl(p.url, (u) => (u.password = WRONG_PASSWORD)) }),
  },
  {
    name: 'a database that does not exist',
    exitCode: 3,
    message: /database "never_created_db" does not exist on .*Create it, or fix the database name/,
    env: () => ({ DATABASE_URL: urlFor('never_created_db', serverUrl()) }),
  },
  {
    name: 'a port where nothing listens',
    exitCode: 3,
    message: /connection refused by 127\.0\.0\.1:9: is Postgres running .*gave up after/,
    env: () => ({ DATABASE_URL: `postgres://app:${WRONG_PASSWORD}@127.0.0.1:9/app` }),
    args: () => ['--wait', '1s'],
  },
  {
    name: 'a host that does not resolve',
    exitCode: 3,
    message: /cannot resolve host "no-such-host\.invalid"/,
    env: () => ({ DATABASE_URL: `postgres://app:${WRONG_PASSWORD}@no-such-host.invalid/app` }),
    args: () => ['--wait', '1s'],
  },
  // Durations and settings
  {
    name: 'a malformed --wait',
    exitCode: 2,
    message:
      /--wait: expected a duration such as 500ms, 30s, 15m or a number of milliseconds, got "10x"/,
    args: () => ['--wait', '10x'],
  },
  {
    name: 'a negative --lock-timeout',
    exitCode: 2,
    message: /--lock-timeout: expected a duration .* got "-5s"/,
    args: () => ['--lock-timeout=-5s'],
  },
  {
    name: 'a --deadline in years',
    exitCode: 2,
    message: /--deadline: expected a duration .* got "1y"/,
    args: () => ['--deadline', '1y'],
  },
  {
    name: 'a --statement-timeout too large',
    exitCode: 2,
    message: /--statement-timeout: expected a duration .* got "99999999999"/,
    args: () => ['--statement-timeout', '99999999999'],
  },
  {
    name: 'an empty --ddl-lock-timeout',
    exitCode: 2,
    message: /--ddl-lock-timeout: expected a duration .* got ""/,
    args: () => ['--ddl-lock-timeout='],
  },
  {
    name: 'a malformed PREFLIGHT_WAIT',
    exitCode: 2,
    message: /PREFLIGHT_WAIT: expected a duration .* got "soon"/,
    env: (p) => ({ DATABASE_URL: p.url, PREFLIGHT_WAIT: 'soon' }),
  },
  {
    name: 'several problems at once',
    exitCode: 2,
    message: /3 configuration errors:[\s\S]*--wait[\s\S]*--deadline[\s\S]*log level/,
    args: () => ['--wait', 'x', '--deadline', 'y', '--log-level', 'loud'],
  },
  {
    name: 'an unknown log format',
    exitCode: 2,
    message: /log format: expected json or pretty, got "xml"/,
    args: () => ['--log-format', 'xml'],
  },
  // Command line
  {
    name: 'an unknown flag',
    exitCode: 2,
    message: /unknown flag "--frobnicate"; see `preflight --help`/,
    args: () => ['--frobnicate'],
  },
  { name: 'an unknown short flag', exitCode: 2, message: /unknown flag "-x"/, args: () => ['-x'] },
  {
    name: 'an unknown command',
    exitCode: 2,
    message: /unknown command "deploy"; commands: run, migrate/,
    argv: () => ['deploy'],
  },
  {
    name: 'a flag of another command',
    exitCode: 2,
    message: /flag --strict does not apply to `preflight migrate`/,
    argv: () => ['migrate', '--strict'],
  },
  {
    name: 'a stray argument',
    exitCode: 2,
    message:
      /unexpected argument "extra" for `preflight run`; to start an app after the run, put it after `--`/,
    args: () => ['extra'],
  },
  {
    name: 'a switch given a value',
    exitCode: 2,
    message: /flag --strict takes no value/,
    args: () => ['--strict=yes'],
  },
  {
    name: 'an app after -- for another command',
    exitCode: 2,
    message: /only `preflight run` starts an app after `--`/,
    argv: () => ['status', '--', 'node', 'server.js'],
  },
  {
    name: 'new without a name',
    exitCode: 2,
    message: /`preflight new` needs a NAME/,
    argv: () => ['new'],
  },
  {
    name: 'resolve with both outcomes',
    exitCode: 2,
    message: /needs exactly one of --applied NAME or --rolled-back NAME/,
    argv: (p) => ['resolve', '--applied', 'a', '--rolled-back', 'b', '--migrations', p.migrations],
  },
  // Directories and files
  {
    name: 'a migrations directory that does not exist',
    exitCode: 2,
    message: /migrations directory \/nonexistent\/migrations does not exist/,
    argv: () => ['run', '--migrations', '/nonexistent/migrations'],
  },
  {
    name: 'a migrations "directory" that is a file',
    exitCode: 2,
    message: /migrations directory .*\/file\.sql is not a directory/,
    argv: (p) => ['run', '--migrations', p.write('file.sql', 'select 1;')],
  },
  {
    name: 'a seeds directory that does not exist',
    exitCode: 2,
    message: /seeds directory \/nonexistent\/seeds does not exist/,
    argv: (p) => ['run', '--migrations', p.migrations, '--seeds', '/nonexistent/seeds'],
  },
  {
    name: 'an expected-schema file that does not exist',
    exitCode: 2,
    message: /expected-schema file \/nonexistent\/expected.json does not exist/,
    args: () => ['--expect', '/nonexistent/expected.json'],
  },
  {
    name: 'an unreadable migrations directory',
    exitCode: 2,
    unprivileged: true,
    message: /migrations directory .* cannot be read: EACCES/,
    setup: (p) => chmodSync(p.migrations, 0o000),
  },
  {
    name: 'an unreadable migration file',
    exitCode: 2,
    // `run` reads the files' contents under the lock, before it changes anything.
    db: true,
    untouched: true,
    unprivileged: true,
    message: /0002_secret\.sql cannot be read: EACCES/,
    setup: (p) => chmodSync(p.write('migrations/0002_secret.sql', 'select 1;'), 0o000),
  },
  {
    name: 'an unreadable seeds directory',
    exitCode: 2,
    unprivileged: true,
    message: /seeds directory .*\/seeds cannot be read: EACCES/,
    setup: (p) => chmodSync(p.seeds, 0o000),
  },
  // Migration files
  {
    name: 'a folder holding both layouts',
    exitCode: 2,
    message:
      /mixes both layouts: prisma folders and flat files \(0001_base\.sql\); keep one layout per directory/,
    setup: (p) =>
      p.write('migrations/20240101000000_init/migration.sql', 'create table p (id int);'),
  },
  {
    name: 'duplicate versions',
    exitCode: 2,
    message:
      /duplicate migration version 1: 0001_base\.sql and 1_again\.sql; give one of them the next free version/,
    setup: (p) => p.write('migrations/1_again.sql', 'select 1;'),
  },
  {
    // The connection is started while the files are read, and waits for the server meanwhile:
    // a problem in the files must not wait with it (--wait 5m would outlast the test).
    name: 'duplicate versions, with the server down and a long --wait',
    exitCode: 2,
    message: /duplicate migration version 1: 0001_base\.sql and 1_again\.sql/,
    args: () => ['--wait', '5m'],
    env: (p) => ({ DATABASE_URL: withUrl(p.url, (u) => (u.port = '1')) }),
    setup: (p) => p.write('migrations/1_again.sql', 'select 1;'),
  },
  {
    // migrate reads its files before it takes the connection started for it: that one is dropped.
    name: 'duplicate versions for migrate, with the server down and a long --wait',
    exitCode: 2,
    message: /duplicate migration version 1: 0001_base\.sql and 1_again\.sql/,
    argv: (p) => ['migrate', '--migrations', p.migrations, '--wait', '5m'],
    env: (p) => ({ DATABASE_URL: withUrl(p.url, (u) => (u.port = '1')) }),
    setup: (p) => p.write('migrations/1_again.sql', 'select 1;'),
  },
  {
    // verify and status read their files while the connection waits for the server, too.
    name: 'duplicate versions for verify, with the server down and a long --wait',
    exitCode: 2,
    message: /duplicate migration version 1: 0001_base\.sql and 1_again\.sql/,
    argv: (p) => ['verify', '--migrations', p.migrations, '--wait', '5m'],
    env: (p) => ({ DATABASE_URL: withUrl(p.url, (u) => (u.port = '1')) }),
    setup: (p) => p.write('migrations/1_again.sql', 'select 1;'),
  },
  {
    name: 'an expected-schema file that does not exist, for status, with the server down and a long --wait',
    exitCode: 2,
    message: /expected-schema file \/nonexistent\/expected\.json does not exist/,
    argv: (p) => [
      'status',
      '--migrations',
      p.migrations,
      '--expect',
      '/nonexistent/expected.json',
      '--wait',
      '5m',
    ],
    env: (p) => ({ DATABASE_URL: withUrl(p.url, (u) => (u.port = '1')) }),
  },
  {
    name: 'non-UTF-8 bytes',
    exitCode: 2,
    // `run` reads the files' contents under the lock, before it changes anything.
    db: true,
    untouched: true,
    message: /0002_latin1\.sql is not valid UTF-8: save it as UTF-8/,
    setup: (p) =>
      p.write(
        'migrations/0002_latin1.sql',
        Buffer.from([0x2d, 0x2d, 0x20, 0xe9, 0x74, 0xe9, 0x0a]),
      ),
  },
  {
    name: 'a dangling symlink',
    exitCode: 2,
    message: /0002_gone\.sql is a symbolic link to nothing/,
    setup: (p) => symlinkSync('/nonexistent/0002.sql', path.join(p.migrations, '0002_gone.sql')),
  },
  {
    name: 'a SQL error',
    exitCode: 5,
    db: true,
    message:
      /0002_typo\.sql:2:8: syntax error at or near "TABEL" \(SQLSTATE 42601\)[\s\S]*Nothing of it was applied/,
    setup: (p) => p.write('migrations/0002_typo.sql', '-- a typo\nCREATE TABEL oops (id int);\n'),
  },
  {
    name: 'an empty migration file',
    exitCode: 0,
    db: true,
    message: /DATABASE IS IN SYNC/,
    setup: (p) => p.write('migrations/0002_empty.sql', ''),
  },
  {
    name: 'a migration of comments only',
    exitCode: 0,
    db: true,
    message: /DATABASE IS IN SYNC/,
    setup: (p) => p.write('migrations/0002_comments.sql', '-- nothing yet\n/* later */\n'),
  },
  {
    name: 'a byte-order mark',
    exitCode: 0,
    db: true,
    message: /DATABASE IS IN SYNC/,
    setup: (p) => p.write('migrations/0002_bom.sql', '\uFEFFCREATE TABLE bom (id int);\n'),
  },
  {
    name: 'CRLF line endings',
    exitCode: 0,
    db: true,
    message: /DATABASE IS IN SYNC/,
    setup: (p) =>
      p.write(
        'migrations/0002_crlf.sql',
        'CREATE TABLE crlf (\r\n  id int\r\n);\r\nCOMMENT ON TABLE crlf IS $$a\r\nb$$;\r\n',
      ),
  },
  {
    name: 'a symlink to a good migration',
    exitCode: 0,
    db: true,
    message: /DATABASE IS IN SYNC/,
    setup: (p) =>
      symlinkSync(
        p.write('elsewhere.sql', 'CREATE TABLE linked (id int);\n'),
        path.join(p.migrations, '0002_linked.sql'),
      ),
  },
  {
    name: 'a file that is not named like a migration',
    exitCode: 0,
    db: true,
    message: /create_users\.sql skipped: a migration is named <version>_<name>\.sql/,
    setup: (p) => p.write('migrations/create_users.sql', 'CREATE TABLE users (id int);\n'),
  },
  // Expected-schema files
  {
    name: 'a malformed expected-schema file',
    exitCode: 2,
    // Parsed once connected (a file that passed before needs no parse), before any change.
    db: true,
    untouched: true,
    message: /expected\.json: invalid JSON at line 1, column \d+/,
    args: (p) => expectFile(p, '{ "version": 1, "tables": { '),
  },
  {
    name: 'an expected-schema file that is an array',
    exitCode: 2,
    // Parsed once connected (a file that passed before needs no parse), before any change.
    db: true,
    untouched: true,
    message: /expected\.json: the file must hold a JSON object, got an array/,
    args: (p) => expectFile(p, '[]'),
  },
  {
    name: 'a wrong-typed property in the expected schema',
    exitCode: 2,
    // Parsed once connected (a file that passed before needs no parse), before any change.
    db: true,
    untouched: true,
    message: /tables\."public\.marks"\.columns\.id\.nullable: expected a boolean, got "yes"/,
    args: (p) =>
      expectFile(p, {
        version: 1,
        tables: { 'public.marks': { columns: { id: { nullable: 'yes' } } } },
      }),
  },
  {
    name: 'an unknown property in the expected schema',
    exitCode: 2,
    // Parsed once connected (a file that passed before needs no parse), before any change.
    db: true,
    untouched: true,
    message: /tabels: unknown property \(expected one of: /,
    args: (p) => expectFile(p, { version: 1, tabels: {} }),
  },
  {
    name: 'an assertion that is not a boolean query',
    exitCode: 8,
    db: true,
    message: /assertion "count" returned \d+, not a boolean: write it as a comparison/,
    args: (p) =>
      expectFile(p, {
        version: 1,
        assertions: [{ name: 'count', sql: 'select count(*)::int from marks' }],
      }),
  },
  {
    name: 'an assertion that returns two rows',
    exitCode: 8,
    db: true,
    message: /assertion "two rows" returned 2 rows, expected exactly one/,
    args: (p) =>
      expectFile(p, {
        version: 1,
        assertions: [{ name: 'two rows', sql: 'select true union all select true' }],
      }),
  },
  {
    name: 'an assertion of two statements',
    exitCode: 8,
    db: true,
    message:
      /assertion "sneaky" could not run: cannot insert multiple commands into a prepared statement/,
    args: (p) =>
      expectFile(p, {
        version: 1,
        assertions: [{ name: 'sneaky', sql: 'select true; delete from marks' }],
      }),
  },
  {
    name: 'an assertion that fails to run',
    exitCode: 8,
    db: true,
    message: /assertion "typo" could not run: relation "nowhere" does not exist \(SQLSTATE 42P01\)/,
    args: (p) =>
      expectFile(p, {
        version: 1,
        assertions: [{ name: 'typo', sql: 'select count(*) = 1 from nowhere' }],
      }),
  },
  // Seeds
  {
    name: 'a seed naming an unknown table',
    exitCode: 7,
    db: true,
    message:
      /seeds\/010_x\.json: table nowhere does not exist in schema public: run the migrations that create it, or fix "table"/,
    setup: (p) =>
      p.write(
        'seeds/010_x.json',
        seedJson({ table: 'nowhere', key: ['id'], mode: 'upsert', rows: [{ id: 1 }] }),
      ),
  },
  {
    name: 'a seed naming an unknown column',
    exitCode: 7,
    db: true,
    message: /seeds\/010_x\.json: column marks\.colour does not exist/,
    setup: (p) =>
      p.write(
        'seeds/010_x.json',
        seedJson({ table: 'marks', key: ['id'], mode: 'upsert', rows: [{ id: 1, colour: 'red' }] }),
      ),
  },
  {
    name: 'a seed key with no unique index',
    exitCode: 7,
    db: true,
    message:
      /key \(name\) of things has no unique index: add a unique constraint on \(name\), or change "key"/,
    setup: (p) =>
      p.write(
        'seeds/010_x.json',
        seedJson({
          table: 'things',
          key: ['name'],
          mode: 'insert-missing',
          rows: [{ id: 1, name: 'a' }],
        }),
      ),
  },
  {
    name: 'a malformed seed file',
    exitCode: 2,
    message: /seeds\/010_x\.json:1:21: malformed JSON/,
    setup: (p) => p.write('seeds/010_x.json', '{ "table": "marks", '),
  },
  {
    name: 'an unknown seed mode',
    exitCode: 2,
    message: /"mode" must be "insert-missing" or "upsert", got "replace-all"/,
    setup: (p) =>
      p.write(
        'seeds/010_x.json',
        seedJson({ table: 'marks', key: ['id'], mode: 'replace-all', rows: [{ id: 1 }] }),
      ),
  },
  {
    name: 'a SQL seed that fails',
    exitCode: 7,
    db: true,
    message:
      /seed failed: seeds\/010_x\.sql: null value in column "id" of relation "marks" violates not-null constraint \(SQLSTATE 23502\)[\s\S]*rolled back: nothing of the seeds was written/,
    setup: (p) =>
      p.write(
        'seeds/010_x.sql',
        "-- a required column left out\nINSERT INTO marks (note) VALUES ('no id');\n",
      ),
  },
];

const results: Array<Record<string, unknown>> = [];
afterAll(() => writeSummary('bad-input', { cases: results.length, results }));

async function run(c: Case, p: Project): Promise<CliResult> {
  const argv = c.argv
    ? c.argv(p)
    : ['run', '--migrations', p.migrations, '--seeds', p.seeds, ...(c.args?.(p) ?? [])];
  const terminationLog = newTerminationLog();
  const env = cleanEnv({
    DATABASE_URL: p.url,
    PREFLIGHT_TERMINATION_LOG: terminationLog,
    ...(c.env?.(p) ?? {}),
  });
  const started = Date.now();
  const asRoot = userInfo().uid === 0;
  const result = await execa(process.execPath, [BUNDLE, ...argv], {
    env,
    extendEnv: false,
    cwd: p.dir,
    reject: false,
    all: true,
    ...(c.unprivileged && asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  // As runCli does for every other test: search the output and files for the passwords.
  const scan = scanInvocation({
    args: argv,
    env,
    cwd: p.dir,
    output: String(result.all ?? ''),
    terminationLog,
  });
  removeTerminationLog(terminationLog);
  if (scan.hits.length > 0) throw new Error(`a password leaked: ${scan.hits.join('; ')}`);
  return {
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    all: String(result.all ?? ''),
    durationMs: Date.now() - started,
  };
}

describe.each(CASES)('bad input: $name', (c) => {
  it(`exits ${c.exitCode} with a message that names it`, async () => {
    const dir = scratchDir();
    chmodSync(dir, 0o755);
    let db: ScratchDatabase | undefined;
    if (c.db) db = await createDatabase('bad');
    const project: Project = {
      dir,
      migrations: path.join(dir, 'migrations'),
      seeds: path.join(dir, 'seeds'),
      url: db?.url ?? urlFor('never_created_db', serverUrl()),
      write(relative, content) {
        const file = path.join(dir, relative);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, content);
        return file;
      },
    };
    project.write(
      'migrations/0001_base.sql',
      'CREATE TABLE marks (id int PRIMARY KEY, note text);\nCREATE TABLE things (id int, name text);\n',
    );
    mkdirSync(project.seeds);
    try {
      c.setup?.(project);
      const result = await run(c, project);
      const message = result.exitCode === 0 ? result.all : errorMessage(result) + '\n' + result.all;
      const findings = logLines(result.stdout)
        .filter((l) => l.event === 'verify.finding')
        .map((l) => String(l.msg));
      const warnings = logLines(result.stdout)
        .filter((l) => l.level === 'warn')
        .map((l) => String(l.msg));
      results.push({
        case: c.name,
        exitCode: result.exitCode,
        message: (result.exitCode === 0
          ? [...warnings, 'in sync'].join('; ')
          : [errorMessage(result), ...findings].join('\n')
        ).slice(0, 400),
      });
      expect(outputProblems(result, [serverPassword(), WRONG_PASSWORD])).toEqual([]);
      expect({ exitCode: result.exitCode, message }).toEqual({
        exitCode: c.exitCode,
        message: expect.stringMatching(c.message),
      });
      if (c.untouched && db) {
        const tables = await db.query<{ name: string }>(
          "SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'",
        );
        expect(tables).toEqual([]);
      }
      if (c.db || result.exitCode !== 2) {
        expect(logLines(result.stdout).at(-1)).toMatchObject({
          event: 'done',
          exitCode: c.exitCode,
        });
      }
    } finally {
      chmodSync(project.migrations, 0o755);
      chmodSync(project.seeds, 0o755);
      await db?.drop();
    }
  }, 60_000);
});

describe('a 50 MB migration', () => {
  it('is applied like any other, and its file is deleted afterwards', async () => {
    const db = await createDatabase('big');
    const dir = scratchDir();
    const migrations = path.join(dir, 'migrations');
    mkdirSync(migrations);
    writeFileSync(
      path.join(migrations, '0001_blob.sql'),
      'CREATE TABLE blob (id int PRIMARY KEY, body text NOT NULL);\n',
    );
    const big = path.join(migrations, '0002_big.sql');
    // 50 MB: a data migration of many rows, each with a dollar-quoted string and a comment.
    const fd = openSync(big, 'w');
    const line = (i: number): string =>
      `INSERT INTO blob VALUES (${i}, $body$${'x'.repeat(900)}; -- 'not' "a" /* comment */$body$); -- row ${i}\n`;
    let size = 0;
    let i = 0;
    while (size < 50 * 1024 * 1024) {
      const text = line(++i);
      writeSync(fd, text);
      size += Buffer.byteLength(text);
    }
    closeSync(fd);
    try {
      const result = await run(
        {
          name: '50 MB',
          exitCode: 0,
          message: /./,
          argv: () => ['run', '--migrations', migrations],
        },
        { dir, migrations, seeds: path.join(dir, 'seeds'), url: db.url, write: () => '' },
      );
      results.push({
        case: 'a 50 MB migration',
        exitCode: result.exitCode,
        sizeBytes: size,
        rows: i,
        durationMs: result.durationMs,
      });
      expect(outputProblems(result, [serverPassword()])).toEqual([]);
      expect(result.exitCode).toBe(0);
      const [count] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM blob');
      expect(count?.n).toBe(i);
    } finally {
      rmSync(big, { force: true });
      await db.drop();
    }
  }, 180_000);
});
