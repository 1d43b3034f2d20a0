import { EventEmitter } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { resolveExecutable } from '../../src/exec/resolve-executable.js';
import { exitCodeOf, runApp, type AppHost, type Execve } from '../../src/exec/run-app.js';

// runApp never reads `process`: the entry hands it the environment, the signals and execve.
// Node.js 20 has no process.execve, so its path is exercised here with a recording stand-in.

function fakeHost(options: { env?: Record<string, string>; execve?: Execve; cwd?: string } = {}) {
  const signals = new EventEmitter();
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const host: AppHost = {
    env: options.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    cwd: options.cwd ?? process.cwd(),
    stderr,
    execve: options.execve,
    onSignal(signal, handler) {
      signals.on(signal, handler);
      return () => signals.off(signal, handler);
    },
  };
  return { host, signals, stderr: () => text };
}

describe('resolveExecutable', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'preflight-path-'));
  const bin1 = path.join(dir, 'bin1');
  const bin2 = path.join(dir, 'bin2');
  mkdirSync(bin1);
  mkdirSync(bin2);
  writeFileSync(path.join(bin1, 'app'), '#!/bin/sh\n');
  writeFileSync(path.join(bin2, 'app'), '#!/bin/sh\n');
  chmodSync(path.join(bin2, 'app'), 0o755);
  writeFileSync(path.join(bin1, 'plain'), 'not a program\n');
  mkdirSync(path.join(bin1, 'adir'));
  writeFileSync(path.join(dir, 'local'), '#!/bin/sh\n');
  chmodSync(path.join(dir, 'local'), 0o755);
  const searchPath = [bin1, bin2].join(':');

  it.each([
    ['app', searchPath, { ok: true, file: path.join(bin2, 'app') }],
    ['./local', searchPath, { ok: true, file: path.join(dir, 'local') }],
    ['local', `${bin1}::${bin2}`, { ok: true, file: path.join(dir, 'local') }],
    ['missing', searchPath, { ok: false, exitCode: 127 }],
    ['plain', searchPath, { ok: false, exitCode: 126 }],
    ['adir', searchPath, { ok: false, exitCode: 127 }],
    ['./nothing-here', searchPath, { ok: false, exitCode: 127 }],
    ['', searchPath, { ok: false, exitCode: 127 }],
  ] as const)('%s on %s', (command, pathValue, want) => {
    expect(resolveExecutable(command, pathValue, dir)).toMatchObject(want);
  });

  it('searches /bin and /usr/bin when PATH is unset, as execvp does', () => {
    const found = resolveExecutable('sh', undefined, dir);
    expect(found).toMatchObject({ ok: true });
    expect(['/bin/sh', '/usr/bin/sh']).toContain((found as { file: string }).file);
  });

  it('says which directories it searched', () => {
    const missing = resolveExecutable('missing', searchPath, dir);
    expect(missing.ok ? '' : missing.message).toBe(`missing was not found on PATH (${searchPath})`);
  });
});

describe('exitCodeOf', () => {
  it.each([
    [0, null, 0],
    [7, null, 7],
    [null, 'SIGTERM', 143],
    [null, 'SIGINT', 130],
    [null, 'SIGKILL', 137],
    [null, 'SIGHUP', 129],
  ] as const)('code %s signal %s -> %s', (code, signal, want) => {
    expect(exitCodeOf(code, signal)).toBe(want);
  });
});

describe('runApp', () => {
  it('replaces the process with execve where Node.js offers it, with the resolved path, argv and env', async () => {
    const calls: Array<{ file: string; args: string[]; env: Record<string, string> }> = [];
    const replaced = new Error('replaced');
    const { host } = fakeHost({
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', APP_SETTING: 'x' },
      execve: (file, args, env) => {
        calls.push({ file, args, env });
        throw replaced;
      },
    });
    // The stand-in "fails" after recording, so runApp falls back to a child: exit 3.
    expect(await runApp(['sh', '-c', 'exit 3'], host)).toBe(3);
    expect(calls).toHaveLength(1);
    expect(['/bin/sh', '/usr/bin/sh']).toContain(calls[0]?.file);
    expect(calls[0]?.args).toEqual(['sh', '-c', 'exit 3']);
    expect(calls[0]?.env).toMatchObject({ APP_SETTING: 'x' });
  });

  it('says so when execve fails and starts the app as a child instead', async () => {
    const { host, stderr } = fakeHost({
      execve: () => {
        throw new Error('EPERM: operation not permitted, execve');
      },
    });
    expect(await runApp(['sh', '-c', 'exit 0'], host)).toBe(0);
    expect(stderr()).toMatch(
      /could not replace itself with the app \(EPERM.*starting it as a child process/,
    );
  });

  it('never calls execve for a command that cannot be found', async () => {
    let called = false;
    const { host, stderr } = fakeHost({ execve: () => (called = true) });
    expect(await runApp(['no-such-app-xyz'], host)).toBe(127);
    expect(called).toBe(false);
    expect(stderr()).toMatch(/cannot start the app: no-such-app-xyz was not found on PATH/);
  });

  it('forwards the signals it hears to the child and stops listening when the child exits', async () => {
    const { host, signals } = fakeHost();
    const ready = path.join(mkdtempSync(path.join(tmpdir(), 'preflight-app-')), 'ready');
    const script = `trap "exit 42" USR2; touch '${ready}'; while :; do sleep 0.05; done`;
    const running = runApp(['sh', '-c', script], host);
    while (!existsSync(ready)) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(signals.listenerCount('SIGUSR2')).toBe(1);
    signals.emit('SIGUSR2');
    expect(await running).toBe(42);
    expect(signals.listenerCount('SIGUSR2')).toBe(0);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('returns 128 + the signal number when the child is killed', async () => {
    const { host, signals } = fakeHost();
    const running = runApp(['sleep', '30'], host);
    await new Promise((resolve) => setTimeout(resolve, 200));
    signals.emit('SIGHUP');
    expect(await running).toBe(129);
  });
});
