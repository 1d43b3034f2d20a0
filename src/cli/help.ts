import type { CommandName } from './args.js';

const COMMON = `Connection and behaviour (flag, then environment, then .env, then default):
  --database-url URL        PREFLIGHT_DATABASE_URL, DATABASE_URL, or libpq PG* variables
  --ca-cert PEM|FILE        DATABASE_CA_CERT, or a file in PGSSLROOTCERT
  --migrations DIR          PREFLIGHT_MIGRATIONS            (default: migrations)
  --seeds DIR               PREFLIGHT_SEEDS                 (default: seeds)
  --expect FILE             PREFLIGHT_EXPECT                (default: migrations/expected-schema.json)
  --wait DURATION           PREFLIGHT_WAIT                  (default: 60s)
  --lock-timeout DURATION   PREFLIGHT_LOCK_TIMEOUT          (default: 15m)
  --ddl-lock-timeout DUR    PREFLIGHT_DDL_LOCK_TIMEOUT      (default: 5s, retried 5 times)
  --statement-timeout DUR   PREFLIGHT_STATEMENT_TIMEOUT     (default: off)
  --deadline DURATION       PREFLIGHT_DEADLINE              (default: off)
  --log-level LEVEL         LOG_LEVEL                       (default: info)
  --log-format json|pretty  LOG_FORMAT                      (default: pretty on a terminal)
  --report FILE             PREFLIGHT_REPORT                (JSON report)
Durations: 500ms, 30s, 15m, or milliseconds.`;

const EXIT_CODES = `Exit codes: 0 in sync, 1 internal error, 2 usage/config, 3 database unreachable or login
refused, 4 lock timeout, 5 migration failed, 6 history conflict, 7 seed failed, 8 drift,
9 migrations pending (status), 130/143 interrupted.`;

const USAGE: Record<CommandName, string> = {
  run: `preflight run [-- CMD ARGS...]
Waits for the database, takes the advisory lock, applies pending migrations, runs the seeds,
verifies the schema and system data; exits non-zero while drift remains. With -- CMD, starts
the app after success. --strict makes extra objects fail verification. When the catalog's
fingerprint equals that of the last passed verification against the same file, the catalog is
not read again; --full-verify always reads and compares it.`,
  migrate: `preflight migrate
Applies pending migrations under the advisory lock (no seeds, no verification).`,
  seed: `preflight seed
Runs the seeds under the advisory lock, in one transaction.`,
  verify: `preflight verify [--strict] [--full-verify]
Checks the expected schema and system data; read-only, takes no lock. Exit 8 on drift.
--full-verify reads and compares the whole catalog even when its fingerprint is unchanged.`,
  status: `preflight status
Read-only: applied, pending, edited, missing and failed migrations. Exit 9 when migrations
are pending, 6 on a history conflict, 0 when in sync.`,
  snapshot: `preflight snapshot [--out FILE] [--from-migrations] [--check]
Writes the exhaustive expected-schema file from the connected database (keeping the file's
assertions). --from-migrations builds a scratch database from the migrations and seeds first
(and drops it); --check compares with the committed file instead of writing (exit 8 if stale).`,
  resolve: `preflight resolve --applied NAME | --rolled-back NAME
Repairs the history for one migration after a human fixed the database by hand; under the lock,
writes the history only. --applied: its changes are in the database (a failed migration finished
by hand, a pending one applied by hand, or an edited file that matches the database).
--rolled-back: a failed migration's changes were undone; the next run applies the file again.
NAME is the file name (flat) or folder name (prisma). Exit 2 for an unknown NAME, 6 when the
history makes the request meaningless (already applied, not failed).`,
  baseline: `preflight baseline --to NAME
Marks every migration up to NAME as applied without running it (adopting an existing database);
under the lock, writes the history only. Exit 2 for an unknown NAME, 6 when NAME is already
applied or a migration up to it failed.`,
  new: `preflight new NAME
Creates the next migration file, with the right prefix for the directory's layout.`,
  help: `preflight help [COMMAND]`,
};

/** The help text of a command, or of preflight as a whole. */
export function helpText(command: CommandName | undefined): string {
  if (command && command !== 'help')
    return `Usage: ${USAGE[command]}\n\n${COMMON}\n\n${EXIT_CODES}\n`;
  const list = (Object.keys(USAGE) as CommandName[])
    .filter((c) => c !== 'help')
    .map((c) => `  ${USAGE[c].split('\n')[0]}`)
    .join('\n');
  return `preflight: the deploy-time gate for Postgres. Wait, lock, migrate, seed, verify.

Usage: preflight [COMMAND] [FLAGS]   (no command means run)

Commands:
${list}

${COMMON}

${EXIT_CODES}

Every command takes --help.
`;
}
