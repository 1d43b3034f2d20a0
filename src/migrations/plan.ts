import { matchesFlatChecksum, matchesPrismaChecksum } from './checksum.js';
import { compareFlatVersions, comparePrismaNames } from './source.js';
import type { AppliedMigration, Conflict, Layout, MigrationFile, Plan } from './types.js';

/** Whether an applied row's checksum matches the file, by the layout's rule. */
export function checksumMatches(layout: Layout, stored: string, file: MigrationFile): boolean {
  // The common case, the checksum read with the file: no second hash of every applied file.
  if (stored === file.checksum) return true;
  return layout === 'prisma' ? matchesPrismaChecksum(stored, file.sql) : matchesFlatChecksum(stored, file.sql);
}

function compareIds(layout: Layout, a: string, b: string): number {
  return layout === 'prisma' ? comparePrismaNames(a, b) : compareFlatVersions(a, b);
}

/**
 * Plans a run from files and history, purely: which migrations are applied, which are pending,
 * and every conflict (edited, missing, failed, out-of-order), all reported together.
 */
export function planMigrations(
  layout: Layout,
  files: readonly MigrationFile[],
  history: readonly AppliedMigration[],
): Plan {
  const byId = new Map(files.map((f) => [f.id, f]));
  const done = new Map<string, AppliedMigration>();
  const conflicts: Conflict[] = [];
  for (const row of history) {
    if (row.failed) {
      conflicts.push({
        kind: 'failed',
        name: row.name,
        message:
          `migration ${row.name} started but did not finish: it may be half-applied. Check the database, finish or undo ` +
          `its changes by hand, then run \`preflight resolve --applied ${row.name}\` or \`preflight resolve --rolled-back ${row.name}\``,
      });
      continue;
    }
    done.set(row.id, row);
    const file = byId.get(row.id);
    if (!file) {
      conflicts.push({
        kind: 'missing',
        name: row.name,
        message: `migration ${row.name} is applied in the database but its file is gone: restore it from version control (a deploy of older code would do this)`,
      });
    } else if (!checksumMatches(layout, row.checksum, file)) {
      conflicts.push({
        kind: 'edited',
        name: file.name,
        message:
          `migration ${file.name} was edited after it was applied: restore the applied version and put the change in a new ` +
          `migration (\`preflight new NAME\`), or, if the database already matches the edited file, run \`preflight resolve --applied ${file.name}\``,
      });
    }
  }
  const failed = new Set(history.filter((r) => r.failed).map((r) => r.id));
  const applied = files.filter((f) => done.has(f.id));
  const pending = files.filter((f) => !done.has(f.id) && !failed.has(f.id));
  let newest: string | undefined;
  for (const id of done.keys()) {
    if (byId.has(id) && (newest === undefined || compareIds(layout, id, newest) > 0)) newest = id;
  }
  if (newest !== undefined) {
    for (const file of pending) {
      if (compareIds(layout, file.id, newest) < 0) {
        conflicts.push({
          kind: 'out-of-order',
          name: file.name,
          message:
            `migration ${file.name} is pending but older than the newest applied one (${byId.get(newest)?.name ?? newest}): ` +
            'give it a newer version (rename it), or, if its changes are already in the database, run ' +
            `\`preflight resolve --applied ${file.name}\``,
        });
      }
    }
  }
  return { applied, pending, conflicts };
}
