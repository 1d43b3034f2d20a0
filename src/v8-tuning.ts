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
 * They cut the peak memory of a full verification over 532 tables from about 67 to 58 MiB. At
 * thousands of tables (`large`: an expected-schema file of megabytes) the optimizers pay for
 * themselves: there `--max-opt=1` is left out, for about 30 ms less of 0.85 s at 5,000 tables
 * (and more memory, about 170 instead of 140 MiB).
 */
export async function tuneForBulkWork(large = false): Promise<void> {
  if (tuned) return;
  tuned = true;
  const { setFlagsFromString } = await import('node:v8');
  const flags = large
    ? ['--semi-space-growth-factor=1']
    : ['--max-opt=1', '--semi-space-growth-factor=1'];
  for (const flag of flags) {
    try {
      setFlagsFromString(flag);
    } catch {
      // A V8 that does not know the setting keeps its default.
    }
  }
}
