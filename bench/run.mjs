// `npm run bench`: whole-process benchmarks of the built CLI against floors measured in the same
// run, with peak RSS and the round trips of the no-op path. See BENCHMARKS.md for the method.
//
//   node bench/run.mjs [--runs N] [--noop-runs N] [--warmup N] [--only noop,cold,verify,replicas]
//                      [--tables N] [--migrations N] [--replicas N] [--cpu-prof] [--reuse]
//                      [--embedded]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { coldFixture, projectFixture, verifyFixture } from './lib/fixtures.mjs';
import { measure, median, mustSucceed, RSS_METHOD } from './lib/measure.mjs';
import { startCountingProxy } from './lib/proxy.mjs';
import {
  describeServer,
  dropDatabase,
  findServer,
  freshDatabase,
  urlFor,
  withAdmin,
} from './lib/server.mjs';
import { formatTable, formatTargets } from './lib/table.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(REPO, '.preflight', 'bench');
const BUNDLE = path.join(REPO, 'dist', 'preflight.cjs');
const FLOOR_SCRIPT = path.join(REPO, 'bench', 'floor-select1.cjs');
const NODE = process.execPath;

const options = parseOptions(process.argv.slice(2));
const only = (name) => options.only === undefined || options.only.includes(name);

/** The environment of every measured process: none of the caller's database or log settings. */
function cleanEnv(extra) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(PG|PREFLIGHT_|DATABASE_|LOG_|NODE_OPTIONS$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function preflight(args, { cwd, url, nodeFlags = [] }) {
  return measure(NODE, [...nodeFlags, BUNDLE, ...args], {
    cwd,
    env: cleanEnv({ DATABASE_URL: url }),
  });
}

function floorSelect1(url) {
  return measure(NODE, [FLOOR_SCRIPT], { env: cleanEnv({ DATABASE_URL: url }) });
}

function floorNode() {
  return measure(NODE, ['-e', '0'], { env: cleanEnv({}) });
}

const PSQL = findPsql();

function findPsql() {
  const probe = spawnSync('psql', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? 'psql' : undefined;
}

function psqlFile(url, file) {
  return measure(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-1', '-f', file, url], {
    env: cleanEnv({}),
  });
}

/**
 * Before a scenario's runs: a CHECKPOINT, so that the server writes out now what the set-up left
 * dirty (a 5,000-table database copied from its template, thousands of tables created and
 * dropped), not in the middle of the measured runs. Skipped with a notice where the role may not.
 */
async function checkpoint(server) {
  try {
    await runSql(server.url, 'CHECKPOINT');
  } catch (error) {
    process.stderr.write(`  no CHECKPOINT before the runs: ${error.message}\n`);
  }
}

/**
 * Runs `body(iteration)` for warm-up then measured iterations, after a checkpoint; returns the
 * measured results.
 */
async function iterate(server, label, body, runs = options.runs) {
  await checkpoint(server);
  const results = [];
  for (let i = 0; i < options.warmup + runs; i++) {
    const result = await body(i);
    if (i >= options.warmup) results.push(result);
    process.stderr.write(`\r  ${label}: ${i + 1}/${options.warmup + runs}   `);
  }
  process.stderr.write('\n');
  return results;
}

/** Summarises measured samples: median wall, median and max peak RSS. */
function summarise(samples) {
  return {
    ms: median(samples.map((s) => s.ms)),
    rssKiB: median(samples.map((s) => s.rssKiB)),
    maxRssKiB: Math.max(...samples.map((s) => s.rssKiB ?? 0)) || undefined,
    samples: samples.map((s) => Math.round(s.ms)),
  };
}

/** Counts the query round trips of one run of `args` through the counting proxy. */
async function countRoundTrips(server, database, args, cwd) {
  const target = new URL(server.url);
  const proxy = await startCountingProxy(target.hostname, Number(target.port || 5432));
  try {
    const url = new URL(urlFor(server.url, database));
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    await mustSucceed(
      `preflight ${args.join(' ')} (counted)`,
      preflight(args, { cwd, url: url.toString() }),
    );
    return proxy.counts();
  } finally {
    await proxy.close();
  }
}

/** One extra, untimed run with V8's CPU profiler, for `--cpu-prof`. */
async function profile(name, args, cwd, url) {
  if (!options.cpuProf) return;
  const dir = path.join(WORK, 'profiles', name);
  mkdirSync(dir, { recursive: true });
  await mustSucceed(
    `${name} (profiled)`,
    preflight(args, { cwd, url, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] }),
  );
  process.stderr.write(`  profile written under ${path.relative(REPO, dir)}\n`);
}

async function noopScenario(server, rows) {
  const total = options.migrations;
  process.stderr.write(
    `no-op: ${total} applied migrations, the shipped seeds, an exhaustive expected schema\n`,
  );
  const dir = projectFixture(REPO, path.join(WORK, 'noop'), total);
  const url = await freshDatabase(server.url, 'preflight_bench_noop');
  await mustSucceed('setup: migrate', preflight(['migrate'], { cwd: dir, url }));
  await mustSucceed('setup: snapshot', preflight(['snapshot'], { cwd: dir, url }));
  await mustSucceed('setup: run', preflight(['run'], { cwd: dir, url }));

  // The shipped project (12 migrations, 32 tables), to show the round trips do not grow.
  const small = projectFixture(REPO, path.join(WORK, 'noop-shipped'), 0);
  const smallUrl = await freshDatabase(server.url, 'preflight_bench_shipped');
  await mustSucceed('setup: shipped run', preflight(['run'], { cwd: small, url: smallUrl }));

  const floors = { node: [], select1: [], noop: [], full: [], shipped: [] };
  await iterate(
    server,
    'no-op and floors',
    async () => {
      floors.node.push(await floorNode());
      floors.select1.push(await mustSucceed('floor: select 1', floorSelect1(url)));
      floors.noop.push(await mustSucceed('no-op run', preflight(['run'], { cwd: dir, url })));
      floors.full.push(
        await mustSucceed(
          'no-op run --full-verify',
          preflight(['run', '--full-verify'], { cwd: dir, url }),
        ),
      );
      floors.shipped.push(
        await mustSucceed('no-op run (shipped)', preflight(['run'], { cwd: small, url: smallUrl })),
      );
    },
    options.noopRuns,
  );
  const trips = await countRoundTrips(server, 'preflight_bench_noop', ['run'], dir);
  const shippedTrips = await countRoundTrips(server, 'preflight_bench_shipped', ['run'], small);
  const floorTrips = await countFloorTrips(server);
  await profile('noop', ['run'], dir, url);

  const node = summarise(floors.node.slice(options.warmup));
  const select1 = summarise(floors.select1.slice(options.warmup));
  rows.push({ key: 'floor-node', name: 'floor: node -e 0', ...node });
  rows.push({
    key: 'floor-select1',
    name: 'floor: node + pg, select 1',
    ...select1,
    trips: floorTrips,
  });
  rows.push({
    key: 'noop',
    name: `no-op run (${total} migrations)`,
    ...summarise(floors.noop.slice(options.warmup)),
    floor: select1.ms,
    floorName: 'select 1',
    trips,
  });
  rows.push({
    key: 'noop-full',
    name: `no-op run (${total}), --full-verify`,
    ...summarise(floors.full.slice(options.warmup)),
    floor: select1.ms,
    floorName: 'select 1',
    trips: await countRoundTrips(server, 'preflight_bench_noop', ['run', '--full-verify'], dir),
  });
  rows.push({
    key: 'noop-shipped',
    name: 'no-op run (shipped 12)',
    ...summarise(floors.shipped.slice(options.warmup)),
    floor: select1.ms,
    floorName: 'select 1',
    trips: shippedTrips,
  });
  await dropDatabase(server.url, 'preflight_bench_noop');
  await dropDatabase(server.url, 'preflight_bench_shipped');
}

async function countFloorTrips(server) {
  const target = new URL(server.url);
  const proxy = await startCountingProxy(target.hostname, Number(target.port || 5432));
  try {
    const url = new URL(server.url);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    await mustSucceed('floor: select 1 (counted)', floorSelect1(url.toString()));
    return proxy.counts();
  } finally {
    await proxy.close();
  }
}

async function coldScenario(server, rows) {
  const count = options.migrations;
  process.stderr.write(`cold apply: ${count} small migrations into an empty database\n`);
  const dir = coldFixture(path.join(WORK, 'cold'), count);
  const database = 'preflight_bench_cold';
  const psqlRuns = [];
  const runs = await iterate(server, 'cold apply and psql -1 -f', async () => {
    if (PSQL) {
      const url = await freshDatabase(server.url, database);
      psqlRuns.push(
        await mustSucceed('floor: psql -1 -f', psqlFile(url, path.join(dir, 'all.sql'))),
      );
    }
    const url = await freshDatabase(server.url, database);
    return mustSucceed('cold apply', preflight(['migrate'], { cwd: dir, url }));
  });
  await freshDatabase(server.url, database);
  const trips = await countRoundTrips(server, database, ['migrate'], dir);
  await profile('cold', ['migrate'], dir, await freshDatabase(server.url, database));
  await dropDatabase(server.url, database);
  const psql = PSQL ? summarise(psqlRuns.slice(options.warmup)) : undefined;
  if (psql) rows.push({ key: 'floor-psql', name: `floor: psql -1 -f (${count})`, ...psql });
  rows.push({
    key: 'cold',
    name: `cold apply (${count} migrations)`,
    ...summarise(runs),
    floor: psql?.ms,
    floorName: 'psql -1 -f',
    trips,
  });
}

async function verifyScenario(server, rows) {
  const tables = options.tables;
  process.stderr.write(`verify at scale: ${tables} tables against their own exhaustive snapshot\n`);
  const database = 'preflight_bench_verify';
  const dir = path.join(WORK, 'verify');
  const url = urlFor(server.url, database);
  if (!(options.reuse && (await hasWideSchema(server, database, tables)))) {
    verifyFixture(dir, tables);
    await freshDatabase(server.url, database);
    process.stderr.write(`  creating ${tables} tables (once) ...\n`);
    await runSql(url, readFileSync(path.join(dir, 'schema.sql'), 'utf8'));
  }
  const args = ['verify', '--expect', 'expected-schema.json'];
  const fullArgs = [...args, '--full-verify'];
  await mustSucceed(
    'setup: snapshot',
    preflight(['snapshot', '--out', 'expected-schema.json'], { cwd: dir, url }),
  );
  // As on a deployed database: a `preflight run` (no migrations here) verified it once, and
  // recorded the catalog fingerprint of that verification.
  mkdirSync(path.join(dir, 'migrations'), { recursive: true });
  await mustSucceed(
    'setup: run',
    preflight(['run', '--expect', 'expected-schema.json'], { cwd: dir, url }),
  );
  // As a database verified for the first time against its snapshot: the same catalog, with
  // nothing recorded (no preflight_verification), so verify reads it in full and records nothing.
  // On the same database, its table dropped before that run and recorded again by an untimed
  // `preflight run` after it: a copy of the database would hold a second catalog of 5,000 tables
  // (about 50 MB) in the server's shared buffers (128 MB by default), and each run would find the
  // other database's catalog there instead of its own.
  const record = () =>
    mustSucceed(
      'setup: run (records the verified state)',
      preflight(['run', '--expect', 'expected-schema.json'], { cwd: dir, url }),
    );
  const nothingRecorded = async (measure) => {
    await runSql(url, 'DROP TABLE IF EXISTS preflight_verification');
    try {
      return await measure();
    } finally {
      await record();
    }
  };
  const full = [];
  const fresh = [];
  const runs = await iterate(
    server,
    'verify, verify --full-verify, verify with nothing recorded',
    async () => {
      full.push(await mustSucceed('verify --full-verify', preflight(fullArgs, { cwd: dir, url })));
      fresh.push(
        await nothingRecorded(() =>
          mustSucceed('verify, nothing recorded', preflight(args, { cwd: dir, url })),
        ),
      );
      return mustSucceed('verify', preflight(args, { cwd: dir, url }));
    },
  );
  const trips = await countRoundTrips(server, database, args, dir);
  const fullTrips = await countRoundTrips(server, database, fullArgs, dir);
  const freshTrips = await nothingRecorded(() => countRoundTrips(server, database, args, dir));
  await profile('verify', args, dir, url);
  await profile('verify-full', fullArgs, dir, url);
  rows.push({
    key: 'verify-full',
    name: `verify (${tables} tables), --full-verify`,
    ...summarise(full.slice(options.warmup)),
    trips: fullTrips,
  });
  rows.push({
    key: 'verify-fresh',
    name: `verify (${tables} tables), nothing recorded`,
    ...summarise(fresh.slice(options.warmup)),
    trips: freshTrips,
  });
  rows.push({
    key: 'verify',
    name: `verify (${tables} tables), catalog unchanged`,
    ...summarise(runs),
    trips,
  });
  // Kept for the next --reuse, which saves creating the tables again.
  if (!options.reuse) await dropDatabase(server.url, database);
}

async function hasWideSchema(server, database, tables) {
  try {
    const { rows } = await withAdmin(urlFor(server.url, database), (client) =>
      client.query(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'vt\\_%'",
      ),
    );
    return rows[0].n === tables && existsSync(path.join(WORK, 'verify', 'schema.sql'));
  } catch {
    return false;
  }
}

async function runSql(url, sql) {
  await withAdmin(url, (client) => client.query(sql));
}

async function replicasScenario(server, rows) {
  const count = options.replicas;
  process.stderr.write(`replicas: ${count} \`preflight run\` at once on an empty database\n`);
  const dir = projectFixture(REPO, path.join(WORK, 'replicas'), 0);
  const database = 'preflight_bench_replicas';
  const runs = await iterate(server, `${count} replicas`, async () => {
    const url = await freshDatabase(server.url, database);
    const started = process.hrtime.bigint();
    const all = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        mustSucceed(`replica ${i + 1}`, preflight(['run'], { cwd: dir, url })),
      ),
    );
    return {
      ms: Number(process.hrtime.bigint() - started) / 1e6,
      rssKiB: Math.max(...all.map((r) => r.rssKiB ?? 0)) || undefined,
    };
  });
  await dropDatabase(server.url, database);
  rows.push({ key: 'replicas', name: `${count} replicas, empty db`, ...summarise(runs) });
}

/**
 * The server's shared memory as the report states it: a new server process's first touch of each
 * 4 KB page of the catalog it reads costs several microseconds on a virtual machine, and huge
 * pages spare most of it (BENCHMARKS.md). For a server on this machine, the huge pages it
 * reserves are shown too (before Postgres 17 the server does not say whether it uses them).
 */
function sharedMemory(pg, server) {
  const status = pg.huge_pages_status ? `, in use: ${pg.huge_pages_status}` : '';
  // The embedded server listens on 127.0.0.1 too.
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(hostOf(server.url));
  const total = local
    ? /^HugePages_Total:\s+(\d+)/m.exec(readText('/proc/meminfo'))?.[1]
    : undefined;
  const reserved = total === undefined ? '' : `; ${total} huge pages reserved on this machine`;
  return `shared_buffers ${pg.shared_buffers}, huge_pages ${pg.huge_pages}${status}${reserved}`;
}

/** The host of a connection URL; none for a string that is not one (key=value settings). */
function hostOf(url) {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/** A file's text, or '' where there is none (not Linux). */
function readText(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * What a fresh 4 KiB page costs a new process on this machine the first time it is written (the
 * median of three new node processes, 20,000 pages each): every process start and every first
 * touch of memory pays it, a new server process's reads of the shared buffers included. It moves
 * the floors and the catalog reads alike (1.5 to 2 µs on one machine of the same kind, 11.5 µs on
 * another: BENCHMARKS.md).
 */
function pageFault() {
  const script = `const n = 20000, size = 4096, pages = new Uint8Array(n * size);
const started = process.hrtime.bigint();
for (let i = 0; i < pages.length; i += size) pages[i] = 1;
process.stdout.write(String(Number(process.hrtime.bigint() - started) / 1e3 / n));`;
  const micros = [1, 2, 3]
    .map(() => spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
    .filter((child) => child.status === 0)
    .map((child) => Number(child.stdout))
    .filter((us) => Number.isFinite(us) && us > 0);
  if (micros.length === 0) return 'not measured';
  // With transparent huge pages always on, the array may come 2 MiB at a time, at the kernel's
  // choice (the server's shared memory only as shmem_enabled says, `never` by default): the
  // figure then says less about the server.
  const thp = /\[(\w+)\]/.exec(readText('/sys/kernel/mm/transparent_hugepage/enabled'))?.[1];
  const note = thp === 'always' ? '; transparent huge pages always: not 4 KiB at a time' : '';
  return `${median(micros).toFixed(2)} µs per fresh 4 KiB page (median of ${micros.length} new processes${note})`;
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    // Makes every Node.js start read a CA bundle (tens of ms), floors included: kept, as set.
    nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'not set',
    pageFault: pageFault(),
    load: os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(' '),
  };
}

async function main() {
  if (!existsSync(BUNDLE))
    throw new Error(`${BUNDLE} is missing: run \`npm run build\` first (npm run bench does)`);
  mkdirSync(WORK, { recursive: true });
  const server = await findServer({ embedded: options.embedded });
  const rows = [];
  try {
    const pg = await describeServer(server.url);
    const info = {
      ...machine(),
      postgres: `${pg.version} (${server.source}; fsync ${pg.fsync}, synchronous_commit ${pg.synchronous_commit})`,
      sharedMemory: sharedMemory(pg, server),
      psql: PSQL ? 'yes' : 'not found: the psql floor is skipped',
      rss: {
        time: '/usr/bin/time %M',
        proc: '/proc VmHWM polled every 5 ms (a lower bound)',
        none: 'not measured',
      }[RSS_METHOD],
      runs: options.runs,
      'no-op runs': options.noopRuns,
      warmup: options.warmup,
    };
    process.stderr.write(`${JSON.stringify(info, null, 2)}\n`);
    if (only('noop')) await noopScenario(server, rows);
    if (only('cold')) await coldScenario(server, rows);
    if (only('verify')) await verifyScenario(server, rows);
    if (only('replicas')) await replicasScenario(server, rows);
    const table = formatTable(rows);
    const targets = formatTargets(rows);
    const text = `${table}\n\n${targets.text}\n`;
    process.stdout.write(`\n${text}`);
    writeFileSync(path.join(WORK, 'latest.md'), `${machineLines(info)}\n\n${text}`);
    writeFileSync(
      path.join(WORK, 'latest.json'),
      `${JSON.stringify({ info, rows, targets: targets.results }, null, 2)}\n`,
    );
    process.stderr.write(
      `\nwritten: ${path.relative(REPO, path.join(WORK, 'latest.md'))}, latest.json\n`,
    );
  } finally {
    await server.stop();
  }
}

function machineLines(info) {
  return Object.entries(info)
    .map(([key, value]) => `- ${key}: ${value}`)
    .join('\n');
}

function parseOptions(argv) {
  const out = {
    runs: 7,
    // The no-op and its floors take a fraction of a second a run, and their ratio is the closest target:
    // three times the runs, for a median that a single slow run moves less.
    noopRuns: undefined,
    warmup: 1,
    tables: 5000,
    migrations: 500,
    replicas: 16,
    only: undefined,
    cpuProf: false,
    embedded: false,
    reuse: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      return value;
    };
    const int = () => {
      const n = Number(next());
      if (!Number.isInteger(n) || n < 0)
        throw new Error(`${arg}: expected a non-negative integer, got ${argv[i]}`);
      return n;
    };
    if (arg === '--runs') out.runs = Math.max(1, int());
    else if (arg === '--noop-runs') out.noopRuns = Math.max(1, int());
    else if (arg === '--warmup') out.warmup = int();
    else if (arg === '--tables') out.tables = Math.max(1, int());
    else if (arg === '--migrations') out.migrations = Math.max(13, int());
    else if (arg === '--replicas') out.replicas = Math.max(1, int());
    else if (arg === '--only') out.only = next().split(',');
    else if (arg === '--cpu-prof') out.cpuProf = true;
    else if (arg === '--reuse') out.reuse = true;
    else if (arg === '--embedded') out.embedded = true;
    else throw new Error(`unknown option ${arg}`);
  }
  out.noopRuns ??= 3 * out.runs;
  return out;
}

main().catch((error) => {
  process.stderr.write(
    `\nbench failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
});
