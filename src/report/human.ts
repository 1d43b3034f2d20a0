import { formatDuration } from '../config/duration.js';
import { CATEGORIES, type Category, type Finding } from './findings.js';
import type { RunReport } from './run-report.js';

const OK = '✓';
const BAD = '✗';
const WARN = '!';

const TITLES: Record<Category, string> = {
  tables: 'Tables',
  columns: 'Columns',
  indexes: 'Indexes',
  constraints: 'Constraints',
  triggers: 'Triggers',
  functions: 'Functions',
  views: 'Views',
  sequences: 'Sequences',
  enums: 'Enums',
  extensions: 'Extensions',
  policies: 'Policies',
  'system data': 'System data',
  assertions: 'Assertions',
};

function line(mark: string, title: string, text: string): string {
  return `${mark} ${title.padEnd(14)} ${text}`;
}

function migrationLines(report: RunReport): string[] {
  const m = report.migrations;
  if (!m) return [];
  const now = m.appliedNow.length ? ` (${m.appliedNow.length} applied by this run)` : '';
  const pendingMark = m.pending.length ? (report.command === 'status' ? WARN : BAD) : OK;
  const lines = [
    line(
      pendingMark,
      'Migrations',
      `${m.alreadyApplied + m.appliedNow.length}/${m.total} applied${now}, ${m.pending.length} pending`,
    ),
    line(
      m.conflicts.length ? BAD : OK,
      'History',
      m.conflicts.length ? `${m.conflicts.length} conflict(s)` : 'OK',
    ),
  ];
  return lines;
}

function seedLines(report: RunReport): string[] {
  const s = report.seeds;
  if (!s) return [];
  if (s.skipped) return [line(WARN, 'Seeds', `skipped: ${s.skipped}`)];
  const inserted = s.files.reduce((n, f) => n + f.inserted, 0);
  const updated = s.files.reduce((n, f) => n + f.updated, 0);
  return [line(OK, 'Seeds', `${s.files.length} file(s): ${inserted} inserted, ${updated} updated`)];
}

function verificationLines(report: RunReport): string[] {
  const v = report.verification;
  if (!v) return [];
  if (v.skipped) return [line(WARN, 'Verification', `skipped: ${v.skipped}`)];
  const lines: string[] = [];
  for (const category of CATEGORIES) {
    const found = v.findings.filter((f) => f.category === category);
    const errors = found.filter((f) => f.severity === 'error').length;
    const warnings = found.length - errors;
    const checked = v.checkedBy?.[category] ?? 0;
    if (errors)
      lines.push(
        line(
          BAD,
          TITLES[category],
          `${errors} problem(s)${warnings ? `, ${warnings} warning(s)` : ''}`,
        ),
      );
    else if (warnings) lines.push(line(WARN, TITLES[category], `OK, ${warnings} extra`));
    else if (checked) lines.push(line(OK, TITLES[category], `OK (${checked})`));
  }
  if (lines.length === 0) lines.push(line(OK, 'Schema', `OK (${v.checked} objects checked)`));
  if (v.method === 'fingerprint' && v.verifiedAt) {
    lines.push(
      line(OK, 'Catalog', `unchanged since its full verification at ${v.verifiedAt} (fingerprint)`),
    );
  }
  return lines;
}

function findingLine(f: Finding): string {
  const mark = f.severity === 'error' ? BAD : WARN;
  return `  ${mark} ${f.message}`;
}

/** Recommended fixes that name the exact command to run. */
export function recommendedFixes(report: RunReport): string[] {
  const fixes: string[] = [];
  const findings = report.verification?.findings ?? [];
  const exit = report.exitCode ?? 0;
  if (report.migrations?.conflicts.length)
    fixes.push(...report.migrations.conflicts.map((c) => c.message));
  if (report.migrations?.pending.length && report.command !== 'run') {
    fixes.push(
      'Apply the pending migrations: preflight migrate   (or deploy again: the pre-deploy job runs preflight run)',
    );
  }
  if (findings.some((f) => f.category === 'system data' && f.severity === 'error')) {
    fixes.push(
      'Put the system data back: preflight seed   (preflight run does it on every deploy)',
    );
  }
  const schemaErrors = findings.filter(
    (f) => f.severity === 'error' && f.category !== 'system data' && f.category !== 'assertions',
  );
  if (schemaErrors.length) {
    fixes.push(
      'The schema differs from what the migrations create. If a migration is missing, add it (preflight new NAME) and deploy; ' +
        'if the expected-schema file is stale, regenerate it: preflight snapshot --from-migrations',
    );
  }
  if (findings.some((f) => f.kind === 'invalid')) {
    fixes.push(
      'Drop each INVALID index (DROP INDEX CONCURRENTLY name) and deploy again so the migration rebuilds it',
    );
  }
  if (exit === 3)
    fixes.push(
      'Check DATABASE_URL (host, port, user, password, database) and that the database accepts connections from here',
    );
  if (exit === 4)
    fixes.push(
      'Another deploy holds the lock: wait for it, or end a stuck session with SELECT pg_terminate_backend(pid)',
    );
  return fixes;
}

/** The human report: one line per category with a mark and a count, the details, then the fixes. */
export function formatHumanReport(report: RunReport): string {
  const exit = report.exitCode ?? 0;
  const out: string[] = [];
  out.push(
    `PREFLIGHT ${report.command.toUpperCase()}${report.database ? ` · ${report.database}` : ''}`,
  );
  out.push('='.repeat(60));
  out.push(...migrationLines(report), ...seedLines(report), ...verificationLines(report));
  const details = (report.verification?.findings ?? []).map(findingLine);
  if (report.error && !report.migrations?.conflicts.length)
    details.unshift(...report.error.message.split('\n').map((l) => `  ${l}`));
  if (report.warnings.length) details.push(...report.warnings.map((w) => `  ${WARN} ${w}`));
  if (details.length) out.push('', 'DETAILS:', ...details);
  out.push('');
  const took = report.durationMs === undefined ? '' : ` in ${formatDuration(report.durationMs)}`;
  if (exit === 0)
    out.push(
      `${OK} ${report.command === 'snapshot' ? 'SNAPSHOT DONE' : 'DATABASE IS IN SYNC'}${took}`,
    );
  else if (exit === 9) out.push(`${WARN} MIGRATIONS PENDING (exit 9)${took}`);
  else out.push(`${BAD} ${headline(exit)} (exit ${exit})${took}`);
  const fixes = recommendedFixes(report);
  if (fixes.length) out.push('', 'RECOMMENDED FIXES:', ...fixes.map((f) => `  - ${f}`));
  return `${out.join('\n')}\n`;
}

function headline(exit: number): string {
  switch (exit) {
    case 2:
      return 'CONFIGURATION ERROR: NOTHING WAS CHANGED';
    case 3:
      return 'DATABASE UNREACHABLE: NOTHING WAS CHANGED';
    case 4:
      return 'ADVISORY LOCK NOT ACQUIRED: NOTHING WAS CHANGED';
    case 5:
      return 'A MIGRATION FAILED: DEPLOY STOPPED';
    case 6:
      return 'HISTORY CONFLICT: NOTHING WAS CHANGED, DEPLOY STOPPED';
    case 7:
      return 'A SEED FAILED: DEPLOY STOPPED';
    case 8:
      return 'DATABASE IS OUT OF SYNC: DEPLOY STOPPED';
    case 130:
    case 143:
      return 'INTERRUPTED: ROLLED BACK, LOCK RELEASED';
    default:
      return 'INTERNAL ERROR: please report this with the log';
  }
}
