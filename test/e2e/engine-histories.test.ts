import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { logLines, runCli } from '../helpers/cli.js';

/**
 * The fixture histories hold the quirks of real ones (see their files). preflight must apply
 * each exactly as `psql -v ON_ERROR_STOP=1 -f` does file by file, and a second run must change
 * nothing. The reference below is written independently of preflight's own code.
 */
const FIXTURES = path.resolve('test/fixtures/histories');
const HISTORY_TABLES = ['preflight_migrations', '_prisma_migrations'];

type Layout = 'flat' | 'prisma';

interface ReferenceFile {
  readonly name: string;
  readonly file: string;
}

/** The files in the order psql runs them: flat by version as a number, prisma by folder name as bytes. */
function referenceOrder(layout: Layout): ReferenceFile[] {
  const dir = path.join(FIXTURES, layout);
  if (layout === 'flat') {
    return readdirSync(dir)
      .filter((name) => /^\d+.*\.sql$/.test(name) && !name.endsWith('.down.sql'))
      .sort((a, b) => {
        const x = BigInt(/^\d+/.exec(a)?.[0] ?? '0');
        const y = BigInt(/^\d+/.exec(b)?.[0] ?? '0');
        return x < y ? -1 : x > y ? 1 : 0;
      })
      .map((name) => ({ name, file: path.join(dir, name) }));
  }
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((name) => ({ name, file: path.join(dir, name, 'migration.sql') }));
}

/** What psql is given: the file without a byte-order mark, and only the up part of dbmate/goose files. */
function referenceSql(file: string): string {
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  const up = /^-- (?:migrate:up|\+goose Up)[^\n]*\n/m.exec(text);
  if (!up) return text;
  const rest = text.slice(up.index + up[0].length);
  const down = /^-- (?:migrate:down|\+goose Down)/m.exec(rest);
  return down ? rest.slice(0, down.index) : rest;
}

async function hasCommand(command: string): Promise<boolean> {
  const result = await execa(command, ['--version'], { reject: false });
  return result.exitCode === 0;
}

async function applyWithPsql(db: TestDatabase, layout: Layout): Promise<void> {
  for (const { name, file } of referenceOrder(layout)) {
    const result = await execa(
      'psql',
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-f', '-'],
      { input: referenceSql(file), env: { PGCLIENTENCODING: 'UTF8' }, reject: false },
    );
    if (result.exitCode !== 0) throw new Error(`psql failed on ${name}: ${result.stderr}`);
  }
}

/**
 * A schema dump from the catalog, one sorted line per fact: schemas, relations, columns,
 * indexes, constraints, functions, enums, domains, triggers, views, sequences, policies, rules,
 * comments, extensions and row counts. The history tables are left out. Works on any server.
 */
const CATALOG_DUMP = `
WITH ns AS (
  SELECT oid, nspname FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
     AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
), rel AS (
  SELECT c.oid, c.relname, c.relkind, c.relrowsecurity, n.nspname
    FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
   WHERE c.relname <> ALL ($1::text[])
)
SELECT 'schema ' || nspname AS line FROM ns
UNION ALL SELECT format('relation %I.%I kind=%s rls=%s', nspname, relname, relkind, relrowsecurity)
  FROM rel WHERE relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
UNION ALL SELECT format('column %I.%I.%s %I %s notnull=%s default=%s identity=%s generated=%s',
    r.nspname, r.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
    pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated)
  FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attnum > 0 AND NOT a.attisdropped AND r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
UNION ALL SELECT format('index %s valid=%s', pg_get_indexdef(i.indexrelid), i.indisvalid)
  FROM pg_index i JOIN rel r ON r.oid = i.indrelid
UNION ALL SELECT format('constraint %s %I %s',
    CASE WHEN c.conrelid <> 0 THEN c.conrelid::regclass::text ELSE c.contypid::regtype::text END,
    c.conname, pg_get_constraintdef(c.oid))
  FROM pg_constraint c JOIN ns n ON n.oid = c.connamespace
 WHERE c.conrelid = 0 OR c.conrelid IN (SELECT oid FROM rel)
UNION ALL SELECT 'function ' || pg_get_functiondef(p.oid)
  FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'p')
UNION ALL SELECT format('enum %s %s', t.oid::regtype,
    (SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
  FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE t.typtype = 'e'
UNION ALL SELECT format('domain %s %s notnull=%s default=%s', t.oid::regtype,
    format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault)
  FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE t.typtype = 'd'
UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
UNION ALL SELECT format('view %I.%I %s', r.nspname, r.relname, pg_get_viewdef(r.oid))
  FROM rel r WHERE r.relkind IN ('v', 'm')
UNION ALL SELECT format('sequence %s start=%s increment=%s min=%s max=%s cache=%s cycle=%s type=%s',
    s.seqrelid::regclass, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, s.seqtypid::regtype)
  FROM pg_sequence s JOIN rel r ON r.oid = s.seqrelid
UNION ALL SELECT format('policy %I.%I %I %s %s %s %s %s', schemaname, tablename, policyname, permissive, roles, cmd, qual, with_check)
  FROM pg_policies
UNION ALL SELECT format('rule %I.%I %I %s', schemaname, tablename, rulename, definition)
  FROM pg_rules WHERE schemaname IN (SELECT nspname FROM ns)
UNION ALL SELECT format('comment %s %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
  FROM pg_description d WHERE d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM rel)
UNION ALL SELECT 'extension ' || extname FROM pg_extension
UNION ALL SELECT format('rows %I.%I %s', r.nspname, r.relname,
    (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', r.nspname, r.relname), false, true, '')))[1]::text)
  FROM rel r WHERE r.relkind IN ('r', 'p', 'm')`;

async function catalogDump(db: TestDatabase): Promise<string[]> {
  const rows = await db.query<{ line: string }>(CATALOG_DUMP, [HISTORY_TABLES]);
  return rows.map((r) => r.line).sort();
}

/** Major version of the pg_dump on this machine, or undefined when there is none. */
async function pgDumpMajor(): Promise<number | undefined> {
  const result = await execa('pg_dump', ['--version'], { reject: false });
  const match = /(\d+)(?:\.\d+)?/.exec(String(result.stdout ?? ''));
  return result.exitCode === 0 && match ? Number(match[1]) : undefined;
}

/** `pg_dump --schema-only` as sorted lines, without comments, blank lines and the history tables. */
async function pgDumpLines(db: TestDatabase): Promise<string[]> {
  const excluded = HISTORY_TABLES.flatMap((t) => ['--exclude-table', `*.${t}`]);
  const result = await execa('pg_dump', [
    '--schema-only',
    '--no-owner',
    '--no-privileges',
    ...excluded,
    '-d',
    db.url,
  ]);
  return String(result.stdout)
    .split('\n')
    .filter(
      (line) => line.trim() !== '' && !line.startsWith('--') && !/^\\(un)?restrict /.test(line),
    )
    .sort();
}

async function serverMajor(db: TestDatabase): Promise<number> {
  const [row] = await db.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  return Math.floor(Number(row?.v) / 10_000);
}

let viaPreflight: TestDatabase;
let viaPsql: TestDatabase;
beforeEach(async () => {
  [viaPreflight, viaPsql] = await Promise.all([
    createTestDatabase('pfh'),
    createTestDatabase('pfr'),
  ]);
});
afterEach(async () => {
  await Promise.all([viaPreflight.drop(), viaPsql.drop()]);
});

describe.each(['flat', 'prisma'] as const)('the %s fixture history', (layout) => {
  const args = ['migrate', '--migrations', path.join(FIXTURES, layout)];

  it('is applied in psql order with the schema psql gives, and a second run changes nothing', async () => {
    const reference = referenceOrder(layout);
    const first = await runCli(args, { env: { DATABASE_URL: viaPreflight.url } });
    expect(first.exitCode).toBe(0);
    const applied = logLines(first.stdout).filter((l) => l.event === 'migration.applied');
    expect(applied.map((l) => l.migration)).toEqual(reference.map((r) => r.name));
    expect(applied.map((l) => [l.index, l.total])).toEqual(
      reference.map((_, i) => [i + 1, reference.length]),
    );
    const skipped = logLines(first.stdout).filter((l) => l.event === 'migrations.skipped');
    expect(skipped.map((l) => l.msg)).toEqual([
      layout === 'flat'
        ? expect.stringContaining('notes.sql skipped')
        : expect.stringContaining('20210405120000_placeholder/ skipped: it has no migration.sql'),
    ]);

    if (await hasCommand('psql')) {
      await applyWithPsql(viaPsql, layout);
      expect(await catalogDump(viaPreflight)).toEqual(await catalogDump(viaPsql));
      const dumpMajor = await pgDumpMajor();
      const server = await serverMajor(viaPreflight);
      if (dumpMajor !== undefined && dumpMajor >= server) {
        expect(await pgDumpLines(viaPreflight)).toEqual(await pgDumpLines(viaPsql));
      } else {
        console.warn(
          `pg_dump ${dumpMajor ?? 'missing'} cannot dump a Postgres ${server} server: the pg_dump comparison is skipped, the catalog comparison above stands`,
        );
      }
    } else {
      console.warn('psql is not installed: the comparison with psql is skipped');
    }

    const before = await catalogDump(viaPreflight);
    const second = await runCli(args, { env: { DATABASE_URL: viaPreflight.url } });
    expect(second.exitCode).toBe(0);
    const events = logLines(second.stdout).map((l) => l.event);
    expect(events).toContain('migrations.none-pending');
    expect(events).not.toContain('migration.applied');
    expect(await catalogDump(viaPreflight)).toEqual(before);
  });
});

describe('the prisma fixture history', () => {
  it('writes _prisma_migrations as Prisma does: one finished row per folder with its checksum', async () => {
    const dir = path.join(FIXTURES, 'prisma');
    const result = await runCli(['migrate', '--migrations', dir], {
      env: { DATABASE_URL: viaPreflight.url },
    });
    expect(result.exitCode).toBe(0);
    const columns = await viaPreflight.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type || coalesce('(' || character_maximum_length || ')', '') AS data_type
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => `${c.column_name} ${c.data_type}`)).toEqual([
      'id character varying(36)',
      'checksum character varying(64)',
      'finished_at timestamp with time zone',
      'migration_name character varying(255)',
      'logs text',
      'rolled_back_at timestamp with time zone',
      'started_at timestamp with time zone',
      'applied_steps_count integer',
    ]);
    const rows = await viaPreflight.query<{
      id: string;
      checksum: string;
      migration_name: string;
      finished_at: Date | null;
      started_at: Date;
      logs: string | null;
      rolled_back_at: Date | null;
      applied_steps_count: number;
    }>('SELECT * FROM _prisma_migrations ORDER BY started_at, migration_name');
    const reference = referenceOrder('prisma');
    expect(rows.map((r) => r.migration_name).sort()).toEqual(reference.map((r) => r.name).sort());
    for (const row of rows) {
      const file = path.join(dir, row.migration_name, 'migration.sql');
      expect(row.checksum).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
      expect(row.id).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect(row.finished_at).not.toBeNull();
      expect(row.finished_at?.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });
});

describe('the flat fixture history', () => {
  it('runs each file in the mode it needs, and stores the LF-normalised checksum', async () => {
    const dir = path.join(FIXTURES, 'flat');
    const result = await runCli(['migrate', '--migrations', dir], {
      env: { DATABASE_URL: viaPreflight.url },
    });
    expect(result.exitCode).toBe(0);
    const modes = Object.fromEntries(
      logLines(result.stdout)
        .filter((l) => l.event === 'migration.applied')
        .map((l) => [l.migration, l.mode]),
    );
    expect(modes).toMatchObject({
      '1_create_users.sql': 'transaction',
      '7_index_users_created_at.sql': 'single-non-transactional',
      '8_org_slugs.sql': 'statements',
      '9_audit_log.sql': 'explicit',
      '11_member_role_guest.sql': 'statements',
      '12_drop_created_at_index.sql': 'single-non-transactional',
      '18_no_transaction_marker.sql': 'statements',
      '31_suspended_role.sql': 'explicit',
      '36_reindex_concurrently.sql': 'single-non-transactional',
    });
    expect(logLines(result.stdout).filter((l) => l.event === 'migration.statement-mode')).toEqual([
      expect.objectContaining({ migration: '11_member_role_guest.sql', sqlstate: '55P04' }),
    ]);
    const rows = await viaPreflight.query<{ name: string; checksum: string }>(
      'SELECT name, checksum FROM preflight_migrations WHERE finished_at IS NOT NULL',
    );
    expect(rows).toHaveLength(referenceOrder('flat').length);
    for (const row of rows) {
      const text = readFileSync(path.join(dir, row.name), 'utf8').replace(/\r\n/g, '\n');
      expect(row.checksum).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
    }
  });
});
