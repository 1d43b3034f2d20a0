import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { logLines, runCli, scratchDir, startCli } from '../helpers/cli.js';

// `preflight run -- CMD ARGS...`: the app starts only after a successful run, with preflight's
// stdio and environment; signals reach it; preflight exits with its code (128 + signal if killed).
// Node.js 20 has no process.execve, so these tests exercise the child-process path end to end;
// test/unit/run-app.test.ts covers the execve path with an injected execve.

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase('exec');
});
afterEach(async () => {
  await db.drop();
});

/** Waits until `file` exists (the app is up and has installed its signal handlers). */
async function waitForFile(file: string, timeoutMs = 45_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${file}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A small Node.js app that records every forwarded signal; on SIGTERM it dies of SIGTERM. */
function signalRecorder(dir: string): { script: string; ready: string; received: string } {
  const script = path.join(dir, 'app.cjs');
  const ready = path.join(dir, 'ready');
  const received = path.join(dir, 'received');
  writeFileSync(
    script,
    `const fs = require('node:fs');
for (const signal of ['SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']) {
  process.on(signal, () => fs.appendFileSync(${JSON.stringify(received)}, signal + '\\n'));
}
process.once('SIGTERM', () => {
  fs.appendFileSync(${JSON.stringify(received)}, 'SIGTERM\\n');
  process.kill(process.pid, 'SIGTERM');
});
setInterval(() => undefined, 1000);
fs.writeFileSync(${JSON.stringify(ready)}, String(process.pid));
`,
  );
  return { script, ready, received };
}

describe('run -- CMD after a successful run', () => {
  it('exits with the app’s own code', async () => {
    const result = await runCli(['run', '--', 'sh', '-c', 'exit 7'], {
      env: { DATABASE_URL: db.url },
    });
    expect(result.exitCode).toBe(7);
    const events = logLines(result.stdout).map((l) => l.event);
    expect(events.indexOf('app.start')).toBeGreaterThan(events.indexOf('done'));
    expect(logLines(result.stdout).find((l) => l.event === 'done')).toMatchObject({ exitCode: 0 });
    const [row] = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM team_roles WHERE is_system_role',
    );
    expect(row?.n).toBe(5);
  });

  it('gives the app the same stdout, stderr and environment, and exits 0 with it', async () => {
    const result = await runCli(
      [
        'run',
        '--',
        'sh',
        '-c',
        'echo "app sees $APP_GREETING and ${DATABASE_URL%%@*}"; echo "app warns" >&2',
      ],
      { env: { DATABASE_URL: db.url, APP_GREETING: 'hello-from-env' } },
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('app sees hello-from-env and postgres://');
    expect(result.stderr).toContain('app warns');
  });

  it('forwards SIGTERM: the app receives it, dies of it, and preflight exits 143', async () => {
    const dir = scratchDir();
    const app = signalRecorder(dir);
    const cli = startCli(['run', '--', process.execPath, app.script], {
      env: { DATABASE_URL: db.url },
    });
    await waitForFile(app.ready);
    cli.kill('SIGTERM');
    const result = await cli;
    expect(result.exitCode).toBe(143);
    expect(result.signal).toBeUndefined();
    expect(readFileSync(app.received, 'utf8').trim().split('\n')).toEqual(['SIGTERM']);
  });

  it('runs `sleep 600` and ends it with SIGTERM: exit 143', async () => {
    const dir = scratchDir();
    const started = path.join(dir, 'started');
    // sh replaces itself with sleep, so the forwarded SIGTERM reaches sleep itself.
    const cli = startCli(['run', '--', 'sh', '-c', `touch '${started}' && exec sleep 600`], {
      env: { DATABASE_URL: db.url },
    });
    await waitForFile(started);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Only the forwarded signal ends a ten-minute sleep within the test's time limit.
    cli.kill('SIGTERM');
    const result = await cli;
    expect(result.exitCode).toBe(143);
  });

  it('forwards SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 and keeps waiting for the app', async () => {
    const dir = scratchDir();
    const app = signalRecorder(dir);
    const cli = startCli(['run', '--', process.execPath, app.script], {
      env: { DATABASE_URL: db.url },
    });
    await waitForFile(app.ready);
    const sent = ['SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGINT'] as const;
    for (const signal of sent) {
      cli.kill(signal);
      // One at a time: the same signal twice in flight may merge into one.
      const until = Date.now() + 10_000;
      while (!(existsSync(app.received) && readFileSync(app.received, 'utf8').includes(signal))) {
        if (Date.now() > until) throw new Error(`the app never received ${signal}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    // Still running: none of those signals ended preflight.
    expect(cli.exitCode).toBeNull();
    cli.kill('SIGTERM');
    const result = await cli;
    expect(result.exitCode).toBe(143);
    expect(readFileSync(app.received, 'utf8').trim().split('\n')).toEqual([...sent, 'SIGTERM']);
    // SIGUSR1 went to the app, not to preflight's own inspector.
    expect(result.all).not.toMatch(/Debugger listening/);
  });

  it('exits 127 with a clear message when the command does not exist', async () => {
    const result = await runCli(['run', '--', 'no-such-app-xyz', '--port', '3000'], {
      env: { DATABASE_URL: db.url },
    });
    expect(result.exitCode).toBe(127);
    expect(result.stderr).toMatch(/cannot start the app: no-such-app-xyz was not found on PATH/);
  });
});

describe('run -- CMD where Node.js offers process.execve', () => {
  // Node.js 20 has none: a preloaded stand-in records the call and runs the program.
  it('replaces preflight with the app, resolved on PATH, with the default SIGPIPE and SIGXFSZ', async () => {
    const log = path.join(scratchDir(), 'execve.json');
    const result = await runCli(
      ['run', '--', 'sh', '-c', 'echo "replaced: $APP_GREETING"; exit 5'],
      {
        env: {
          DATABASE_URL: db.url,
          APP_GREETING: 'hi',
          NODE_OPTIONS: `--require ${path.resolve('test/fixtures/fake-execve.cjs')}`,
          FAKE_EXECVE_LOG: log,
        },
      },
    );
    expect(result.exitCode).toBe(5);
    expect(result.stdout).toContain('replaced: hi');
    const call = JSON.parse(readFileSync(log, 'utf8')) as {
      file: string;
      args: string[];
      env: Record<string, string>;
      sigpipeIgnored: boolean;
      sigxfszIgnored: boolean;
    };
    expect(['/bin/sh', '/usr/bin/sh']).toContain(call.file);
    expect(call.args).toEqual(['sh', '-c', 'echo "replaced: $APP_GREETING"; exit 5']);
    expect(call.env).toMatchObject({ APP_GREETING: 'hi', DATABASE_URL: db.url });
    expect(call).toMatchObject({ sigpipeIgnored: false, sigxfszIgnored: false });
  });
});

describe('run -- CMD when the run fails: the app never starts', () => {
  function markerApp(dir: string): { argv: string[]; marker: string } {
    const marker = path.join(dir, 'app-started');
    return { argv: ['--', 'sh', '-c', `touch '${marker}'`], marker };
  }

  it('on a history conflict (exit 6)', async () => {
    const dir = scratchDir({ migrations: true });
    const flags = ['--migrations', path.join(dir, 'migrations')];
    expect((await runCli(['migrate', ...flags], { env: { DATABASE_URL: db.url } })).exitCode).toBe(
      0,
    );
    appendFileSync(
      path.join(dir, 'migrations', '0003_plans_and_subscriptions.sql'),
      '\n-- edited\nSELECT 1;\n',
    );
    const app = markerApp(dir);
    const result = await runCli(['run', ...flags, ...app.argv], { env: { DATABASE_URL: db.url } });
    expect(result.exitCode).toBe(6);
    expect(existsSync(app.marker)).toBe(false);
    expect(logLines(result.stdout).some((l) => l.event === 'app.start')).toBe(false);
  });

  it('on a failing migration (exit 5)', async () => {
    const dir = scratchDir({ migrations: true });
    writeFileSync(
      path.join(dir, 'migrations', '0013_broken.sql'),
      'ALTER TABLE no_such_table ADD COLUMN x int;\n',
    );
    const app = markerApp(dir);
    const result = await runCli(
      ['run', '--migrations', path.join(dir, 'migrations'), ...app.argv],
      {
        env: { DATABASE_URL: db.url },
      },
    );
    expect(result.exitCode).toBe(5);
    expect(existsSync(app.marker)).toBe(false);
  });

  it('on drift found by verification (exit 8)', async () => {
    expect((await runCli(['run'], { env: { DATABASE_URL: db.url } })).exitCode).toBe(0);
    await db.query('DROP TRIGGER update_storage_on_attachment_insert ON invoice_attachments');
    const app = markerApp(scratchDir());
    const result = await runCli(['run', ...app.argv], { env: { DATABASE_URL: db.url } });
    expect(result.exitCode).toBe(8);
    expect(result.stderr).toContain('update_storage_on_attachment_insert');
    expect(existsSync(app.marker)).toBe(false);
  });

  it('when the database is unreachable (exit 3)', async () => {
    const app = markerApp(scratchDir());
    const result = await runCli(['run', '--wait', '1s', ...app.argv], {
      env: { DATABASE_URL: 'postgres://app@127.0.0.1:9/app' },
    });
    expect(result.exitCode).toBe(3);
    expect(existsSync(app.marker)).toBe(false);
  });
});
