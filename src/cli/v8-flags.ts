import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for a process that lives for a second: the bundle runs this before anything else
 * (scripts/bundle.mjs injects it). They cut the peak memory of a no-op run over 500 migrations
 * from about 67 to 59 MiB, at about 15% more CPU on a 5,000-table verify, where the optimizer
 * would have paid off; BENCHMARKS.md has the figures.
 * - `--max-opt=1`: interpreter and baseline code only. The optimizing compilers' jobs hold
 *   megabytes, for functions that run a few thousand times before the process exits.
 * - `--semi-space-growth-factor=1`: the young generation keeps its initial size instead of
 *   doubling when a burst of parsing survives a scavenge.
 */
for (const flag of ['--max-opt=1', '--semi-space-growth-factor=1']) {
  try {
    setFlagsFromString(flag);
  } catch {
    // A V8 that does not know the setting keeps its default.
  }
}
