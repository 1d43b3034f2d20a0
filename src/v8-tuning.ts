let tuned = false;

/**
 * V8 settings for the bulk work of a short-lived process: a full verification, a snapshot, a batch
 * of migrations. Set on the way into that work, not at start-up, where loading `node:v8` (hence
 * imported here, on first use) and running without the optimizer cost a no-op run about 10 ms
 * for nothing (BENCHMARKS.md).
 * - `--max-opt=1`: interpreter and baseline code only. The optimizing compilers' jobs hold
 *   megabytes, for functions that run a few thousand times before the process exits.
 * - `--semi-space-growth-factor=1`: the young generation keeps its size instead of doubling when
 *   a burst of parsing survives a scavenge.
 * They cut the peak memory of a full verification over 532 tables from about 67 to 58 MiB, and at
 * 5,000 tables from 179 to 137 MiB, at about 15% more CPU there.
 */
export async function tuneForBulkWork(): Promise<void> {
  if (tuned) return;
  tuned = true;
  const { setFlagsFromString } = await import('node:v8');
  for (const flag of ['--max-opt=1', '--semi-space-growth-factor=1']) {
    try {
      setFlagsFromString(flag);
    } catch {
      // A V8 that does not know the setting keeps its default.
    }
  }
}
