import { logLines } from '../../helpers/cli.js';

/** Where a run was when it stopped, read from the log lines it had written. */
export function landedIn(stdout: string, total: number): string {
  let events: string[];
  try {
    events = logLines(stdout).map((l) => String(l.event));
  } catch {
    // The last line may be cut in the middle by a kill.
    events = logLines(
      stdout
        .split('\n')
        .filter((l) => l.endsWith('}'))
        .join('\n'),
    ).map((l) => String(l.event));
  }
  const has = (e: string): boolean => events.includes(e);
  if (has('done')) return 'finished';
  if (has('verify.result')) return 'after verifying';
  if (has('seeds.done') || has('seed.skipped')) return 'verifying';
  if (has('migrations.applied') || has('migrations.none-pending')) return 'seeding';
  if (has('lock.acquired')) {
    const applied = events.filter((e) => e === 'migration.applied').length;
    return applied === 0 && total > 0 ? 'migrating (first migration)' : 'migrating';
  }
  if (has('connect')) return 'locking';
  return 'starting or connecting';
}
