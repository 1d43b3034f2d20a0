import { EXPECTED_SCHEMA_VERSION } from './types.js';

/** The expected-schema format as data: the properties each kind of entry takes, and their types. */

/** Returns what was expected (`a boolean`) when the value does not fit, else undefined. */
export type Check = (value: unknown) => string | undefined;

const isText: Check = (v) => (typeof v === 'string' ? undefined : 'a string');
export const isNonEmptyText: Check = (v) =>
  typeof v === 'string' && v.trim() !== '' ? undefined : 'a non-empty string';
const isBoolean: Check = (v) => (typeof v === 'boolean' ? undefined : 'a boolean');
const isTextOrNull: Check = (v) =>
  v === null || typeof v === 'string' ? undefined : 'a string or null';
const isInteger: Check = (v) =>
  (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v))
    ? undefined
    : 'an integer (or a string of digits)';
export const isTextList: Check = (v) =>
  Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : 'an array of strings';
const oneOf =
  (...values: readonly unknown[]): Check =>
  (v) =>
    values.includes(v) ? undefined : `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;

export interface EntrySpec {
  readonly props: Readonly<Record<string, Check>>;
  readonly collections?: Readonly<Record<string, EntrySpec>>;
}

const INDEX: EntrySpec = { props: { definition: isText, valid: isBoolean } };
const TRIGGER: EntrySpec = {
  props: { definition: isText, enabled: oneOf(true, false, 'replica', 'always') },
};

const TABLE: EntrySpec = {
  props: {
    kind: oneOf('table', 'partitioned'),
    partitionKey: isTextOrNull,
    partitionOf: isTextOrNull,
    partitionBound: isTextOrNull,
    rls: isBoolean,
    rlsForced: isBoolean,
  },
  collections: {
    columns: {
      props: {
        type: isNonEmptyText,
        nullable: isBoolean,
        default: isTextOrNull,
        identity: oneOf('always', 'by default', null),
        generated: isTextOrNull,
      },
    },
    indexes: INDEX,
    constraints: {
      props: {
        type: oneOf('primary key', 'foreign key', 'unique', 'check', 'exclusion'),
        definition: isText,
        deferrable: isBoolean,
        deferred: isBoolean,
        validated: isBoolean,
      },
    },
    triggers: TRIGGER,
    policies: {
      props: {
        command: oneOf('all', 'select', 'insert', 'update', 'delete'),
        permissive: isBoolean,
        roles: isTextList,
        using: isTextOrNull,
        withCheck: isTextOrNull,
      },
    },
  },
};

/** Top-level collections, and how their keys must be written. */
export const TOP: Readonly<
  Record<string, { spec: EntrySpec; key: 'qualified' | 'function' | 'bare' }>
> = {
  tables: { spec: TABLE, key: 'qualified' },
  functions: {
    spec: {
      props: {
        kind: oneOf('function', 'procedure', 'aggregate', 'window'),
        returns: isTextOrNull,
        language: isText,
        definition: isTextOrNull,
      },
    },
    key: 'function',
  },
  views: {
    spec: {
      props: { kind: oneOf('view', 'materialized'), definition: isText },
      collections: { indexes: INDEX, triggers: TRIGGER },
    },
    key: 'qualified',
  },
  sequences: {
    spec: {
      props: {
        type: isNonEmptyText,
        start: isInteger,
        increment: isInteger,
        min: isInteger,
        max: isInteger,
        cache: isInteger,
        cycle: isBoolean,
      },
    },
    key: 'qualified',
  },
  enums: { spec: { props: { labels: isTextList } }, key: 'qualified' },
  extensions: { spec: { props: { schema: isText, version: isText } }, key: 'bare' },
};

export const ROOT_PROPS: Readonly<Record<string, Check>> = {
  $schema: isText,
  version: oneOf(EXPECTED_SCHEMA_VERSION),
  exhaustive: isBoolean,
};
