import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import type { Finding } from '../../src/report/findings.js';
import { compareSchema } from '../../src/schema/compare.js';
import { canonicalType, describeDifference } from '../../src/schema/compare-values.js';
import {
  formatExpectedSchema,
  loadExpectedSchema,
  mergeAssertions,
  parseExpectedSchema,
  readExpectedSchemaIfExists,
  writeExpectedSchema,
} from '../../src/schema/expected-file.js';
import { ROOT_PROPS, TOP, type EntrySpec } from '../../src/schema/expected-rules.js';
import { validateExpectedSchema } from '../../src/schema/expected-validate.js';
import { snapshotToExpected } from '../../src/schema/introspect.js';
import type {
  ColumnState,
  ExpectedSchema,
  SchemaSnapshot,
  TableState,
} from '../../src/schema/types.js';

function column(overrides: Partial<ColumnState> = {}): ColumnState {
  return {
    type: 'text',
    nullable: true,
    default: null,
    identity: null,
    generated: null,
    ...overrides,
  };
}

function table(overrides: Partial<TableState> = {}): TableState {
  return {
    kind: 'table',
    partitionKey: null,
    partitionOf: null,
    partitionBound: null,
    rls: false,
    rlsForced: false,
    columns: {},
    indexes: {},
    constraints: {},
    triggers: {},
    policies: {},
    ...overrides,
  };
}

const FUNCTION_DEF =
  'CREATE OR REPLACE FUNCTION public.touch()\n RETURNS trigger\n LANGUAGE plpgsql\nAS $function$\nBEGIN\n  NEW.updated_at = now();\n  RETURN NEW;\nEND;\n$function$\n';

/** A small database: users with two columns, a primary key, a unique key and a trigger. */
function snapshot(): SchemaSnapshot {
  return {
    schemas: ['public'],
    tables: {
      'public.users': table({
        columns: {
          id: column({ type: 'bigint', nullable: false, identity: 'always' }),
          email: column({ type: 'character varying(255)', nullable: false }),
          bio: column(),
          created_at: column({ type: 'timestamp with time zone', default: 'now()' }),
        },
        indexes: {
          users_pkey: {
            definition: 'CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)',
            valid: true,
          },
        },
        constraints: {
          users_pkey: {
            type: 'primary key',
            definition: 'PRIMARY KEY (id)',
            deferrable: false,
            deferred: false,
            validated: true,
          },
        },
        triggers: {
          touch: {
            definition:
              'CREATE TRIGGER touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION touch()',
            enabled: true,
          },
        },
      }),
    },
    functions: {
      'public.touch()': {
        kind: 'function',
        returns: 'trigger',
        language: 'plpgsql',
        definition: FUNCTION_DEF,
      },
    },
    views: {
      'public.active_users': {
        kind: 'view',
        definition: ' SELECT users.id\n   FROM users;',
        indexes: {},
        triggers: {},
      },
    },
    sequences: {
      'public.invoice_number': {
        type: 'bigint',
        start: '1',
        increment: '1',
        min: '1',
        max: '9223372036854775807',
        cache: '1',
        cycle: false,
      },
    },
    enums: { 'public.invoice_status': { labels: ['draft', 'sent'] } },
    extensions: { pgcrypto: { schema: 'public', version: '1.3' } },
  };
}

/** The snapshot with one change applied. */
function changed(edit: (s: SchemaSnapshot) => void): SchemaSnapshot {
  const copy = structuredClone(snapshot());
  edit(copy);
  return copy;
}

const users = (s: SchemaSnapshot): TableState => s.tables['public.users'] as TableState;

/** The parts of a finding a case checks. */
function brief(f: Finding): Pick<Finding, 'kind' | 'category' | 'object' | 'severity'> & {
  property?: string;
} {
  return {
    kind: f.kind,
    category: f.category,
    object: f.object,
    severity: f.severity,
    ...(f.property === undefined ? {} : { property: f.property }),
  };
}

interface Case {
  name: string;
  expected: ExpectedSchema;
  actual: SchemaSnapshot;
  strict?: boolean;
  findings: ReturnType<typeof brief>[];
  message?: string;
}

const exhaustive = (): ExpectedSchema => snapshotToExpected(snapshot());

const cases: Case[] = [
  {
    name: 'an exhaustive snapshot of the same database has no findings',
    expected: exhaustive(),
    actual: snapshot(),
    findings: [],
  },
  {
    name: 'a missing table is one finding, not one per column',
    expected: { tables: { 'public.users': {}, 'public.teams': { columns: ['id', 'name'] } } },
    actual: snapshot(),
    findings: [{ kind: 'missing', category: 'tables', object: 'public.teams', severity: 'error' }],
    message: 'table public.teams is missing',
  },
  {
    name: 'a dropped column is missing',
    expected: exhaustive(),
    actual: changed((s) => delete users(s).columns.bio),
    findings: [
      { kind: 'missing', category: 'columns', object: 'public.users.bio', severity: 'error' },
    ],
    message: 'column public.users.bio is missing',
  },
  {
    name: 'a changed type is different, with have and want',
    expected: exhaustive(),
    actual: changed((s) => (users(s).columns.email = column({ type: 'text', nullable: false }))),
    findings: [
      {
        kind: 'different',
        category: 'columns',
        object: 'public.users.email',
        severity: 'error',
        property: 'type',
      },
    ],
    message: 'column public.users.email: type is text, expected character varying(255)',
  },
  {
    name: 'a dropped NOT NULL is different',
    expected: { tables: { 'public.users': { columns: { email: { nullable: false } } } } },
    actual: changed((s) => (users(s).columns.email = column({ type: 'character varying(255)' }))),
    findings: [
      {
        kind: 'different',
        category: 'columns',
        object: 'public.users.email',
        severity: 'error',
        property: 'nullable',
      },
    ],
    message: 'column public.users.email: nullable is true, expected false',
  },
  {
    name: 'properties a partial file leaves out are not checked',
    expected: { tables: { 'public.users': { columns: { email: {}, bio: { nullable: true } } } } },
    actual: changed((s) => (users(s).columns.email = column({ type: 'text' }))),
    findings: [],
  },
  {
    name: 'columns may be listed as an array of names',
    expected: { tables: { 'public.users': { columns: ['bio', 'is_temp_password'] } } },
    actual: snapshot(),
    findings: [
      {
        kind: 'missing',
        category: 'columns',
        object: 'public.users.is_temp_password',
        severity: 'error',
      },
    ],
  },
  {
    name: 'extra objects are not reported for a partial file, even when strict',
    expected: { tables: { 'public.users': { columns: ['id'] } } },
    actual: changed((s) => (s.tables['public.tmp'] = table())),
    strict: true,
    findings: [],
  },
  {
    name: 'an extra table in an exhaustive file is a warning',
    expected: exhaustive(),
    actual: changed((s) => (s.tables['public.tmp'] = table())),
    findings: [{ kind: 'extra', category: 'tables', object: 'public.tmp', severity: 'warning' }],
    message: 'table public.tmp exists but is not in the expected schema',
  },
  {
    name: 'an extra table is an error when strict',
    expected: exhaustive(),
    actual: changed((s) => (s.tables['public.tmp'] = table())),
    strict: true,
    findings: [{ kind: 'extra', category: 'tables', object: 'public.tmp', severity: 'error' }],
  },
  {
    name: 'an exhaustive file does not report extras in a collection it leaves out',
    expected: { exhaustive: true, tables: { 'public.users': {} } },
    actual: snapshot(),
    findings: [],
  },
  {
    name: 'an extra column in an exhaustive file',
    expected: exhaustive(),
    actual: changed((s) => (users(s).columns.nickname = column())),
    findings: [
      { kind: 'extra', category: 'columns', object: 'public.users.nickname', severity: 'warning' },
    ],
  },
  {
    name: 'an INVALID index is an error even when the file does not list it',
    expected: { tables: ['public.users'] },
    actual: changed((s) => {
      users(s).indexes.users_email_key = {
        definition: 'CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)',
        valid: false,
      };
    }),
    findings: [
      {
        kind: 'invalid',
        category: 'indexes',
        object: 'public.users.users_email_key',
        severity: 'error',
        property: 'valid',
      },
    ],
    message:
      'index public.users.users_email_key is INVALID (a failed CREATE INDEX CONCURRENTLY?): run DROP INDEX CONCURRENTLY public.users_email_key and create it again',
  },
  {
    name: 'an INVALID index listed as valid is reported once, as invalid',
    expected: exhaustive(),
    actual: changed((s) => ((users(s).indexes.users_pkey as { valid: boolean }).valid = false)),
    findings: [
      {
        kind: 'invalid',
        category: 'indexes',
        object: 'public.users.users_pkey',
        severity: 'error',
        property: 'valid',
      },
    ],
  },
  {
    name: 'function bodies compare with whitespace collapsed',
    expected: {
      functions: {
        'public.touch()': {
          definition:
            'CREATE OR REPLACE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $function$ BEGIN NEW.updated_at = now(); RETURN NEW; END; $function$',
        },
      },
    },
    actual: snapshot(),
    findings: [],
  },
  {
    name: 'a replaced function body is different',
    expected: exhaustive(),
    actual: changed((s) => {
      s.functions['public.touch()'] = {
        kind: 'function',
        returns: 'trigger',
        language: 'plpgsql',
        definition: FUNCTION_DEF.replace('NEW.updated_at = now();', 'NULL;'),
      };
    }),
    findings: [
      {
        kind: 'different',
        category: 'functions',
        object: 'public.touch()',
        severity: 'error',
        property: 'definition',
      },
    ],
  },
  {
    name: 'view definitions compare with whitespace collapsed',
    expected: { views: { 'public.active_users': { definition: 'SELECT users.id FROM users;' } } },
    actual: snapshot(),
    findings: [],
  },
  {
    name: 'an added enum label is different (labels are ordered)',
    expected: exhaustive(),
    actual: changed(
      (s) => (s.enums['public.invoice_status'] = { labels: ['draft', 'sent', 'paid'] }),
    ),
    findings: [
      {
        kind: 'different',
        category: 'enums',
        object: 'public.invoice_status',
        severity: 'error',
        property: 'labels',
      },
    ],
    message: 'enum public.invoice_status: labels are [draft, sent, paid], expected [draft, sent]',
  },
  {
    name: 'a disabled trigger is different',
    expected: exhaustive(),
    actual: changed((s) => ((users(s).triggers.touch as { enabled: boolean }).enabled = false)),
    findings: [
      {
        kind: 'different',
        category: 'triggers',
        object: 'public.users.touch',
        severity: 'error',
        property: 'enabled',
      },
    ],
    message: 'trigger public.users.touch: enabled is false, expected true',
  },
  {
    name: 'a dropped trigger and a dropped constraint are missing, sorted by category',
    expected: exhaustive(),
    actual: changed((s) => {
      delete users(s).triggers.touch;
      delete users(s).constraints.users_pkey;
    }),
    findings: [
      {
        kind: 'missing',
        category: 'constraints',
        object: 'public.users.users_pkey',
        severity: 'error',
      },
      { kind: 'missing', category: 'triggers', object: 'public.users.touch', severity: 'error' },
    ],
  },
  {
    name: 'hand-written type aliases match the names format_type prints',
    expected: {
      tables: {
        'public.users': {
          columns: {
            email: { type: 'varchar(255)' },
            created_at: { type: 'timestamptz' },
            id: { type: 'int8' },
          },
        },
      },
    },
    actual: snapshot(),
    findings: [],
  },
  {
    name: 'sequence numbers may be JSON numbers or strings',
    expected: {
      sequences: {
        'public.invoice_number': { start: 1, max: '9223372036854775807', increment: 2 },
      },
    },
    actual: snapshot(),
    findings: [
      {
        kind: 'different',
        category: 'sequences',
        object: 'public.invoice_number',
        severity: 'error',
        property: 'increment',
      },
    ],
  },
  {
    name: 'an extension version is checked only when the file states it',
    expected: { extensions: { pgcrypto: { schema: 'public', version: '1.2' } } },
    actual: snapshot(),
    findings: [
      {
        kind: 'different',
        category: 'extensions',
        object: 'pgcrypto',
        severity: 'error',
        property: 'version',
      },
    ],
  },
  {
    name: 'row-level security is reported under policies',
    expected: { tables: { 'public.users': { rls: true } } },
    actual: snapshot(),
    findings: [
      {
        kind: 'different',
        category: 'policies',
        object: 'public.users',
        severity: 'error',
        property: 'rls',
      },
    ],
  },
  {
    name: 'policy roles compare as a set',
    expected: {
      tables: { 'public.users': { policies: { own: { roles: ['b', 'a'], command: 'select' } } } },
    },
    actual: changed((s) => {
      users(s).policies.own = {
        command: 'select',
        permissive: true,
        roles: ['a', 'b'],
        using: '(id = 1)',
        withCheck: null,
      };
    }),
    findings: [],
  },
  {
    name: 'names like constructor are objects, not prototype properties',
    expected: { tables: { 'public.users': { columns: ['constructor', 'toString'] } } },
    actual: snapshot(),
    findings: [
      {
        kind: 'missing',
        category: 'columns',
        object: 'public.users.constructor',
        severity: 'error',
      },
      { kind: 'missing', category: 'columns', object: 'public.users.toString', severity: 'error' },
    ],
  },
];

describe('compareSchema', () => {
  it.each(cases)('$name', ({ expected, actual, strict, findings, message }) => {
    const result = compareSchema(expected, actual, { strict: strict ?? false });
    expect(result.map(brief)).toEqual(findings);
    if (message !== undefined) expect(result[0]?.message).toBe(message);
  });

  it('gives have and want for a different property', () => {
    const actual = changed(
      (s) =>
        (users(s).columns.created_at = column({
          type: 'timestamp with time zone',
          default: 'CURRENT_TIMESTAMP',
        })),
    );
    const [finding] = compareSchema(exhaustive(), actual, { strict: false });
    expect(finding).toMatchObject({
      property: 'default',
      have: 'CURRENT_TIMESTAMP',
      want: 'now()',
    });
  });

  it('is deterministic whatever order the objects come in', () => {
    const actual = changed((s) => {
      delete users(s).columns.bio;
      delete users(s).columns.email;
      s.tables['public.a'] = table();
      s.tables['public.z'] = table();
    });
    const reversed = structuredClone(actual);
    reversed.tables = Object.fromEntries(Object.entries(actual.tables).reverse());
    const one = compareSchema(exhaustive(), actual, { strict: false });
    expect(compareSchema(exhaustive(), reversed, { strict: false })).toEqual(one);
    expect(one.map((f) => f.object)).toEqual([
      'public.a',
      'public.z',
      'public.users.bio',
      'public.users.email',
    ]);
  });
});

describe('compare values', () => {
  it.each([
    ['varchar(255)', 'character varying(255)'],
    ['VARCHAR', 'character varying'],
    ['timestamptz', 'timestamp with time zone'],
    ['timestamptz(3)', 'timestamp(3) with time zone'],
    ['int[]', 'integer[]'],
    ['numeric(10, 2)', 'numeric(10,2)'],
    ['character varying(255)', 'character varying(255)'],
    ['public.citext', 'public.citext'],
  ])('canonicalType(%s) is %s', (written, printed) => {
    expect(canonicalType(written)).toBe(printed);
  });

  it('shows where long definitions differ', () => {
    const want = `SELECT ${'a, '.repeat(40)}b FROM t`;
    const have = `SELECT ${'a, '.repeat(40)}c FROM t`;
    expect(describeDifference('definition', have, want)).toBe(
      'definition differs: have "… a, a, a, a, a, a, a, a, c FROM t", want "… a, a, a, a, a, a, a, a, b FROM t"',
    );
  });
});

describe('expected-schema file', () => {
  it('reports every problem with its location', () => {
    const problems = validateExpectedSchema({
      version: 2,
      tables: {
        'public.users': { columns: { bio: { nullable: 'yes', nulable: true } }, indexes: 3 },
        users: {},
        'app.users': {},
      },
      functions: { 'public.touch': {} },
      assertions: [
        { name: 'x', sql: '' },
        { name: 'x', sql: 'select true' },
      ],
      extra: true,
    });
    expect(problems).toEqual([
      'version: expected one of 1, got 2',
      'tables."public.users".columns.bio.nullable: expected a boolean, got "yes"',
      'tables."public.users".columns.bio.nulable: unknown property (expected one of: type, nullable, default, identity, generated)',
      'tables."public.users".indexes: expected an object of named entries or an array of names, got 3',
      'tables.users: the name must be schema-qualified, e.g. "public.users"',
      'tables."app.users": schema "app" is not in "schemas" (public): add it there, or fix the name',
      'functions."public.touch": a function is named with its argument types, e.g. "public.touch()" or "public.touch(integer, text)"',
      'assertions[0].sql: expected a non-empty string, got ""',
      'assertions: the name "x" is used twice',
      'extra: unknown property (expected one of: $schema, version, exhaustive, schemas, tables, functions, views, sequences, enums, extensions, assertions)',
    ]);
  });

  it('accepts a generated snapshot and a minimal hand-written file', () => {
    expect(validateExpectedSchema(JSON.parse(formatExpectedSchema(exhaustive())))).toEqual([]);
    expect(validateExpectedSchema({ tables: ['public.users'], extensions: ['pgcrypto'] })).toEqual(
      [],
    );
  });

  it('points at the line and column of a JSON syntax error', () => {
    const text = '{\n  "tables": {\n    "public.users": {},,\n  }\n}\n';
    expect(() => parseExpectedSchema(text, 'expected.json')).toThrow(ConfigError);
    expect(() => parseExpectedSchema(text, 'expected.json')).toThrow(
      /expected\.json: invalid JSON at line 3, column 24/,
    );
  });

  it('throws ConfigError with every problem, exit code 2', () => {
    try {
      parseExpectedSchema('{"exhaustive": "yes", "schemas": []}', 'e.json');
      throw new Error('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).exitCode).toBe(2);
      expect((error as ConfigError).problems).toEqual([
        'e.json: schemas: expected a non-empty array of strings, got an array',
        'e.json: exhaustive: expected a boolean, got "yes"',
      ]);
    }
  });

  it('writes stable, sorted, pretty JSON and reads it back', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pf-expected-'));
    try {
      const file = path.join(dir, 'expected-schema.json');
      await writeExpectedSchema(file, exhaustive());
      const text = await readFile(file, 'utf8');
      expect(text.endsWith('}\n')).toBe(true);
      expect(text.split('\n').slice(0, 5)).toEqual([
        '{',
        '  "version": 1,',
        '  "exhaustive": true,',
        '  "schemas": [',
        '    "public"',
      ]);
      expect(text).toContain('"columns": {\n        "bio": {\n          "default": null,');
      expect(await loadExpectedSchema(file)).toEqual(JSON.parse(text));
      const shuffled = {
        ...exhaustive(),
        tables: Object.fromEntries(Object.entries(exhaustive().tables ?? {}).reverse()),
      };
      expect(formatExpectedSchema(shuffled)).toBe(text);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a missing file is a ConfigError, or undefined when asked if it exists', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pf-expected-'));
    try {
      const file = path.join(dir, 'nope.json');
      await expect(loadExpectedSchema(file)).rejects.toThrow(/nope\.json does not exist/);
      await expect(readExpectedSchemaIfExists(file)).resolves.toBeUndefined();
      await writeFile(file, '[]');
      await expect(readExpectedSchemaIfExists(file)).rejects.toThrow(
        /must hold a JSON object, got an array/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the published JSON Schema has the same properties as the validator', async () => {
    interface JsonSchema {
      properties: Record<string, unknown>;
      $defs: Record<string, { properties: Record<string, unknown> }>;
    }
    const file = path.resolve('schema/expected-schema.schema.json');
    const schema = JSON.parse(await readFile(file, 'utf8')) as JsonSchema;
    const keys = (spec: EntrySpec): string[] =>
      [...Object.keys(spec.props), ...Object.keys(spec.collections ?? {})].sort();
    const defKeys = (name: string): string[] =>
      Object.keys(schema.$defs[name]?.properties ?? {}).sort();
    const singular: Record<string, string> = {
      tables: 'table',
      functions: 'function',
      views: 'view',
      sequences: 'sequence',
      enums: 'enum',
      extensions: 'extension',
      columns: 'column',
      indexes: 'index',
      constraints: 'constraint',
      triggers: 'trigger',
      policies: 'policy',
    };
    expect(Object.keys(schema.properties).sort()).toEqual(
      [...Object.keys(ROOT_PROPS), 'schemas', ...Object.keys(TOP), 'assertions'].sort(),
    );
    for (const [collection, { spec }] of Object.entries(TOP)) {
      expect([collection, defKeys(singular[collection] ?? '')]).toEqual([collection, keys(spec)]);
      for (const [child, childSpec] of Object.entries(spec.collections ?? {})) {
        expect([child, defKeys(singular[child] ?? '')]).toEqual([child, keys(childSpec)]);
      }
    }
  });

  it('a new snapshot keeps the assertions and $schema of the previous file', () => {
    const previous: ExpectedSchema = {
      $schema: '../schema/expected-schema.schema.json',
      tables: ['public.old'],
      assertions: [{ name: 'five system roles', sql: 'select true' }],
    };
    const merged = mergeAssertions(previous, exhaustive());
    expect(merged.assertions).toEqual(previous.assertions);
    expect(merged.$schema).toBe(previous.$schema);
    expect(merged.tables).toEqual(exhaustive().tables);
    expect(mergeAssertions(undefined, exhaustive())).toEqual(exhaustive());
  });
});
