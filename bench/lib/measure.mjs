// Runs a whole process and measures it: wall time from spawn to exit, and peak RSS.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const TIME = '/usr/bin/time';

/**
 * How peak RSS is read: GNU time's %M (the kernel's ru_maxrss for the child) when it works here,
 * else polling /proc/<pid>/status VmHWM (a lower bound: it misses growth in the last 5 ms).
 */
export const RSS_METHOD = detectRssMethod();

function detectRssMethod() {
  if (!existsSync(TIME)) return existsSync('/proc/self/status') ? 'proc' : 'none';
  const probe = spawnSync(TIME, ['-f', '%M', 'true'], { encoding: 'utf8' });
  return probe.status === 0 && /^\d+\s*$/.test(probe.stderr) ? 'time' : 'proc';
}

let counter = 0;

/**
 * Spawns `command args` and resolves when it exits, with { ms, rssKiB, code, stdout, stderr }.
 * stdout and stderr are collected through pipes, as a platform's log collector would.
 */
export function measure(command, args, { cwd, env, input } = {}) {
  const rssFile =
    RSS_METHOD === 'time'
      ? path.join(tmpdir(), `preflight-bench-${process.pid}-${counter++}`)
      : undefined;
  const [file, argv] = rssFile
    ? [TIME, ['-f', '%M', '-o', rssFile, command, ...args]]
    : [command, args];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file, argv, {
      cwd,
      env,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => err.push(chunk));
    if (input !== undefined) child.stdin.end(input);
    let hwm = 0;
    const poll =
      RSS_METHOD === 'proc'
        ? setInterval(() => {
            hwm = Math.max(hwm, readHwm(child.pid));
          }, 5)
        : undefined;
    child.on('error', reject);
    let ms = 0;
    let code = -1;
    child.on('exit', (exitCode, signal) => {
      ms = Number(process.hrtime.bigint() - started) / 1e6;
      code = exitCode ?? (signal ? 128 : -1);
      if (poll) clearInterval(poll);
    });
    child.on('close', () => {
      let rssKiB = RSS_METHOD === 'proc' ? hwm : undefined;
      if (rssFile) {
        try {
          rssKiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
        } catch {
          rssKiB = undefined;
        }
        rmSync(rssFile, { force: true });
      }
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({ ms, rssKiB, code, stdout, stderr });
    });
  });
}

function readHwm(pid) {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Runs `fn` and throws with the process's output when it did not exit 0. */
export async function mustSucceed(label, run) {
  const result = await run;
  if (result.code !== 0) {
    throw new Error(
      `${label} exited ${result.code}\n--- stderr ---\n${result.stderr.slice(-4000)}\n--- stdout ---\n${result.stdout.slice(-4000)}`,
    );
  }
  return result;
}

/** The median of a list of numbers. */
export function median(values) {
  const sorted = values
    .filter((v) => typeof v === 'number' && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
