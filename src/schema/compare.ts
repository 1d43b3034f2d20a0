import { CATEGORIES, type Category, type Finding, type FindingKind } from '../report/findings.js';
import { describeDifference, quoteIdentifier, sameValue } from './compare-values.js';
import {
  namedRecord,
  type ColumnExpectation,
  type ColumnState,
  type ConstraintExpectation,
  type ConstraintState,
  type EnumExpectation,
  type EnumState,
  type ExpectedSchema,
  type ExtensionExpectation,
  type ExtensionState,
  type FunctionExpectation,
  type FunctionState,
  type IndexExpectation,
  type IndexState,
  type Named,
  type PolicyExpectation,
  type PolicyState,
  type SchemaSnapshot,
  type SequenceExpectation,
  type SequenceState,
  type TableExpectation,
  type TableState,
  type TriggerExpectation,
  type TriggerState,
  type ViewExpectation,
  type ViewState,
} from './types.js';

export interface CompareOptions {
  /** Extra objects (only reported for an exhaustive file) are errors instead of warnings. */
  readonly strict: boolean;
}

/** What is compared for one kind of object. */
interface KindSpec<E, A> {
  readonly noun: string;
  readonly category: Category;
  /** The scalar properties compared when the expected entry states them. */
  readonly props: readonly (keyof E & keyof A & string)[];
  readonly propCategory?: Readonly<Record<string, Category>>;
  /** Objects left out of both the property check and the extra report (invalid indexes). */
  readonly reportedElsewhere?: (actual: A) => boolean;
  readonly children?: (scope: Scope, object: string, want: Partial<E>, have: A) => void;
}

interface Scope {
  readonly exhaustive: boolean;
  readonly strict: boolean;
  readonly findings: Finding[];
}

/**
 * Compares an expected schema (partial or exhaustive) with a snapshot: listed objects that are
 * absent are `missing`, stated properties that differ are `different` (errors); unlisted objects
 * are `extra` only when the file is exhaustive (warnings, errors when strict); an INVALID index is
 * always an error. Pure; the findings come sorted by category, object and property.
 */
export function compareSchema(
  expected: ExpectedSchema,
  actual: SchemaSnapshot,
  options: CompareOptions,
): Finding[] {
  const scope: Scope = {
    exhaustive: expected.exhaustive === true,
    strict: options.strict,
    findings: [],
  };
  compareCollection(scope, TABLE, '', expected.tables, actual.tables);
  compareCollection(scope, FUNCTION, '', expected.functions, actual.functions);
  compareCollection(scope, VIEW, '', expected.views, actual.views);
  compareCollection(scope, SEQUENCE, '', expected.sequences, actual.sequences);
  compareCollection(scope, ENUM, '', expected.enums, actual.enums);
  compareCollection(scope, EXTENSION, '', expected.extensions, actual.extensions);
  reportInvalidIndexes(scope, actual);
  return sortFindings(scope.findings);
}

const COLUMN: KindSpec<ColumnExpectation, ColumnState> = {
  noun: 'column',
  category: 'columns',
  props: ['type', 'nullable', 'default', 'identity', 'generated'],
};

const INDEX: KindSpec<IndexExpectation, IndexState> = {
  noun: 'index',
  category: 'indexes',
  props: ['definition', 'valid'],
  reportedElsewhere: (index) => !index.valid,
};

const CONSTRAINT: KindSpec<ConstraintExpectation, ConstraintState> = {
  noun: 'constraint',
  category: 'constraints',
  props: ['type', 'definition', 'deferrable', 'deferred', 'validated'],
};

const TRIGGER: KindSpec<TriggerExpectation, TriggerState> = {
  noun: 'trigger',
  category: 'triggers',
  props: ['definition', 'enabled'],
};

const POLICY: KindSpec<PolicyExpectation, PolicyState> = {
  noun: 'policy',
  category: 'policies',
  props: ['command', 'permissive', 'roles', 'using', 'withCheck'],
};

const TABLE: KindSpec<TableExpectation, TableState> = {
  noun: 'table',
  category: 'tables',
  props: ['kind', 'partitionKey', 'partitionOf', 'partitionBound', 'rls', 'rlsForced'],
  propCategory: { rls: 'policies', rlsForced: 'policies' },
  children(scope, object, want, have) {
    const prefix = `${object}.`;
    compareCollection(scope, COLUMN, prefix, want.columns, have.columns);
    compareCollection(scope, INDEX, prefix, want.indexes, have.indexes);
    compareCollection(scope, CONSTRAINT, prefix, want.constraints, have.constraints);
    compareCollection(scope, TRIGGER, prefix, want.triggers, have.triggers);
    compareCollection(scope, POLICY, prefix, want.policies, have.policies);
  },
};

const VIEW: KindSpec<ViewExpectation, ViewState> = {
  noun: 'view',
  category: 'views',
  props: ['kind', 'definition'],
  children(scope, object, want, have) {
    compareCollection(scope, INDEX, `${object}.`, want.indexes, have.indexes);
    compareCollection(scope, TRIGGER, `${object}.`, want.triggers, have.triggers);
  },
};

const FUNCTION: KindSpec<FunctionExpectation, FunctionState> = {
  noun: 'function',
  category: 'functions',
  props: ['kind', 'returns', 'language', 'definition'],
};

const SEQUENCE: KindSpec<SequenceExpectation, SequenceState> = {
  noun: 'sequence',
  category: 'sequences',
  props: ['type', 'start', 'increment', 'min', 'max', 'cache', 'cycle'],
};

const ENUM: KindSpec<EnumExpectation, EnumState> = {
  noun: 'enum',
  category: 'enums',
  props: ['labels'],
};

const EXTENSION: KindSpec<ExtensionExpectation, ExtensionState> = {
  noun: 'extension',
  category: 'extensions',
  props: ['schema', 'version'],
};

/** Missing and different for every listed object, then extra for unlisted ones. */
function compareCollection<E extends object, A extends object>(
  scope: Scope,
  spec: KindSpec<E, A>,
  prefix: string,
  expected: Named<E> | undefined,
  actual: Readonly<Record<string, A>>,
): void {
  // A collection the file leaves out is not checked, not even for extras.
  if (expected === undefined) return;
  const wanted = namedRecord<E>(expected);
  for (const name of Object.keys(wanted)) {
    const want = wanted[name] as Partial<E>;
    const have = Object.hasOwn(actual, name) ? actual[name] : undefined;
    if (have === undefined) {
      const object = `${prefix}${name}`;
      add(scope, 'missing', spec.category, object, `${spec.noun} ${object} is missing`);
      continue;
    }
    if (spec.reportedElsewhere?.(have) !== true)
      compareProps(scope, spec, prefix, name, want, have);
    spec.children?.(scope, `${prefix}${name}`, want, have);
  }
  if (!scope.exhaustive) return;
  for (const name of Object.keys(actual)) {
    if (Object.hasOwn(wanted, name) || spec.reportedElsewhere?.(actual[name] as A) === true)
      continue;
    const object = `${prefix}${name}`;
    const message = `${spec.noun} ${object} exists but is not in the expected schema`;
    add(scope, 'extra', spec.category, object, message);
  }
}

function compareProps<E extends object, A extends object>(
  scope: Scope,
  spec: KindSpec<E, A>,
  prefix: string,
  name: string,
  want: Partial<E>,
  have: A,
): void {
  for (const property of spec.props) {
    const wanted: unknown = want[property];
    if (wanted === undefined) continue;
    const found: unknown = have[property];
    if (sameValue(property, wanted, found)) continue;
    const object = `${prefix}${name}`;
    const category = spec.propCategory?.[property] ?? spec.category;
    const message = `${spec.noun} ${object}: ${describeDifference(property, found, wanted)}`;
    add(scope, 'different', category, object, message, { property, have: found, want: wanted });
  }
}

/** Every INVALID index is an error, listed in the file or not. */
function reportInvalidIndexes(scope: Scope, actual: SchemaSnapshot): void {
  const owners = [...Object.entries(actual.tables), ...Object.entries(actual.views)];
  for (const [owner, { indexes }] of owners) {
    for (const [name, index] of Object.entries(indexes)) {
      if (index.valid) continue;
      const object = `${owner}.${name}`;
      const schema = owner.slice(0, owner.indexOf('.'));
      const drop = `DROP INDEX CONCURRENTLY ${quoteIdentifier(schema)}.${quoteIdentifier(name)}`;
      const message =
        `index ${object} is INVALID (a failed CREATE INDEX CONCURRENTLY?): ` +
        `run ${drop} and create it again`;
      add(scope, 'invalid', 'indexes', object, message, {
        property: 'valid',
        have: false,
        want: true,
      });
    }
  }
}

function add(
  scope: Scope,
  kind: FindingKind,
  category: Category,
  object: string,
  message: string,
  detail: Pick<Finding, 'property' | 'have' | 'want'> = {},
): void {
  const severity = kind === 'extra' && !scope.strict ? 'warning' : 'error';
  scope.findings.push({ kind, category, object, severity, ...detail, message });
}

const KIND_ORDER: readonly FindingKind[] = ['missing', 'invalid', 'different', 'extra'];

/** Category (report order), then object, then kind, then property; code-point order throughout. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const text = (a = '', b = ''): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...findings].sort(
    (a, b) =>
      CATEGORIES.indexOf(a.category) - CATEGORIES.indexOf(b.category) ||
      text(a.object, b.object) ||
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      text(a.property, b.property),
  );
}
