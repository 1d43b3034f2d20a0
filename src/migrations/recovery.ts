import { ConfigError, HistoryConflictError } from '../errors.js';
import { checksumMatches } from './plan.js';
import type { AppliedMigration, Layout, MigrationFile } from './types.js';

/** One write to the history, and nothing else: recovery never runs migration SQL. */
export type RecoveryAction =
  | { readonly kind: 'roll-back-failed'; readonly id: string; readonly name: string }
  | { readonly kind: 'mark-applied'; readonly file: MigrationFile }
  | { readonly kind: 'update-checksum'; readonly file: MigrationFile };

/** What a recovery command will write, planned purely from files and history. */
export interface RecoveryPlan {
  readonly actions: readonly RecoveryAction[];
}

/** The bare name a human may type: a path's last part, without `/migration.sql` or a trailing slash. */
function bareName(name: string): string {
  const trimmed = name.trim().replace(/[\\/]+$/, '');
  const withoutFile = trimmed.replace(/[\\/]migration\.sql$/, '');
  return withoutFile.split(/[\\/]/).pop() ?? withoutFile;
}

function sameVersion(layout: Layout, id: string, name: string): boolean {
  return layout === 'flat' && /^\d+$/.test(name) && BigInt(name).toString() === id;
}

/**
 * Finds a migration by the name a human typed: the file or folder name, a path to it, the flat
 * file name without `.sql`, or the flat version number (`42` or `0042`).
 */
export function findMigration(
  layout: Layout,
  files: readonly MigrationFile[],
  name: string,
): MigrationFile | undefined {
  const bare = bareName(name);
  return (
    files.find((f) => f.name === bare) ??
    files.find((f) => layout === 'flat' && f.name.replace(/(\.up)?\.sql$/, '') === bare) ??
    files.find((f) => sameVersion(layout, f.id, bare))
  );
}

function unknownName(files: readonly MigrationFile[], name: string, where: string): ConfigError {
  const bare = bareName(name).toLowerCase();
  const near = files.filter((f) => bare.length > 0 && f.name.toLowerCase().includes(bare));
  const hint = near.length
    ? `; did you mean ${near
        .slice(0, 3)
        .map((f) => f.name)
        .join(', ')}?`
    : files.length
      ? `; the newest is ${files[files.length - 1]?.name}`
      : '';
  return new ConfigError([
    `no migration named ${JSON.stringify(name)} ${where}${hint}. Give the file name (flat) or folder name (prisma)`,
  ]);
}

/** The file `name` designates; throws ConfigError (exit 2) naming near matches when there is none. */
export function requireMigration(
  layout: Layout,
  files: readonly MigrationFile[],
  name: string,
): MigrationFile {
  const file = findMigration(layout, files, name);
  if (!file) throw unknownName(files, name, 'in the migrations directory');
  return file;
}

/**
 * `resolve --applied NAME`: the database has the migration's changes (finished by hand, or an
 * edited file whose new version matches the database). Failed attempts are rolled back in the
 * history, and the file is recorded as applied with its current checksum. Refuses (exit 6) a
 * migration that is applied and unchanged.
 */
export function planResolveApplied(
  layout: Layout,
  files: readonly MigrationFile[],
  history: readonly AppliedMigration[],
  name: string,
): RecoveryPlan {
  const file = requireMigration(layout, files, name);
  const rows = history.filter((r) => r.id === file.id);
  const failed = rows.filter((r) => r.failed);
  const finished = rows.filter((r) => !r.failed);
  const edited = finished.some((r) => !checksumMatches(layout, r.checksum, file));
  if (finished.length > 0 && failed.length === 0 && !edited) {
    throw new HistoryConflictError(
      `migration ${file.name} is already applied and its file is unchanged: there is nothing to resolve`,
      { migration: file.name },
    );
  }
  const actions: RecoveryAction[] = failed.length
    ? [{ kind: 'roll-back-failed', id: file.id, name: file.name }]
    : [];
  if (finished.length === 0) actions.push({ kind: 'mark-applied', file });
  else if (edited) actions.push({ kind: 'update-checksum', file });
  return { actions };
}

/**
 * `resolve --rolled-back NAME`: a failed migration's changes were undone by hand, so the next
 * run applies the file again. Only failed migrations qualify (as with `prisma migrate resolve`);
 * the name may be one that is only in the history (its file deleted). Refuses (exit 6) a
 * migration that finished or never ran.
 */
export function planResolveRolledBack(
  layout: Layout,
  files: readonly MigrationFile[],
  history: readonly AppliedMigration[],
  name: string,
): RecoveryPlan {
  const bare = bareName(name);
  const file = findMigration(layout, files, name);
  const row = file
    ? undefined
    : history.find((r) => r.name === bare || sameVersion(layout, r.id, bare));
  const id = file?.id ?? row?.id;
  const label = file?.name ?? row?.name ?? bare;
  if (id === undefined) throw unknownName(files, name, 'in the migrations directory or the history');
  const rows = history.filter((r) => r.id === id);
  if (!rows.some((r) => r.failed)) {
    throw new HistoryConflictError(
      rows.length
        ? `migration ${label} finished successfully; it is not failed, so there is nothing to roll back in the history. ` +
            'To undo its changes, write a new migration that reverses them (`preflight new NAME`)'
        : `migration ${label} was never applied to this database: there is nothing to roll back`,
      { migration: label },
    );
  }
  return { actions: [{ kind: 'roll-back-failed', id, name: label }] };
}

/**
 * `baseline --to NAME`: adopting a database that already has the schema, every migration up to
 * NAME that the history lacks is recorded as applied, without running it. Refuses (exit 6) when
 * NAME is already applied, or when a migration up to NAME failed (resolve it first).
 */
export function planBaseline(
  layout: Layout,
  files: readonly MigrationFile[],
  history: readonly AppliedMigration[],
  name: string,
): RecoveryPlan {
  const target = requireMigration(layout, files, name);
  const upTo = files.slice(0, files.indexOf(target) + 1);
  const done = new Set(history.filter((r) => !r.failed).map((r) => r.id));
  if (done.has(target.id)) {
    throw new HistoryConflictError(
      `migration ${target.name} is already applied: a baseline records migrations the database has but its history lacks, so there is nothing to do. ` +
        'To record a single migration, use `preflight resolve --applied NAME`',
      { migration: target.name },
    );
  }
  const failedIds = new Set(history.filter((r) => r.failed).map((r) => r.id));
  const failed = upTo.filter((f) => failedIds.has(f.id));
  if (failed.length > 0) {
    throw new HistoryConflictError(
      `migration${failed.length === 1 ? '' : 's'} ${failed.map((f) => f.name).join(', ')} failed part-way in this database: ` +
        'resolve each first with `preflight resolve --applied NAME` or `preflight resolve --rolled-back NAME`, then baseline',
      { migrations: failed.map((f) => f.name) },
    );
  }
  return {
    actions: upTo
      .filter((f) => !done.has(f.id))
      .map((file): RecoveryAction => ({ kind: 'mark-applied', file })),
  };
}
