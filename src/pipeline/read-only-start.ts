import type pg from 'pg';
import type { ExpectedSource } from '../schema/expected-file.js';
import { takeFingerprintIfRecorded } from '../schema/verified-state.js';
import type { CommandContext } from './context.js';
import type { EarlyFingerprint } from './precheck.js';
import { loginFirst } from './session-scope.js';
import { expectedFileMayExist, loadExpected } from './verify-step.js';

/*
 * How verify and status start: their files are read while the session opens, and the catalog
 * fingerprint goes out as soon as it has.
 */

/** What verify and status read while connecting (see readWhileConnecting). */
export interface ReadOnlyStart<F> extends EarlyFingerprint {
  /** What `readFiles` returned. */
  readonly files: F;
  /** The expected-schema file, read but not parsed; undefined when an absent default is skipped. */
  readonly expected: ExpectedSource | undefined;
}

/**
 * withSession's `prepare` of verify and status. When an expected-schema file may exist, a probe of
 * preflight's table goes out right behind the session's settings, first of all, and the catalog
 * fingerprint as soon as it shows the table (see takeFingerprintIfRecorded), since the server takes
 * longest over it (about 0.2 s on a new connection at 5,000 tables); the history (behind a probe
 * of its own table, see readHistoryWherePresent) and the lookup follow on the wire (see
 * lookupBehind). The file is read on the thread pool
 * meanwhile (18 MB at 5,000 tables) and hashed, and `readFiles` (the migrations and seeds, read
 * synchronously) waits for the login first (loginFirst). A problem that `readFiles` finds is
 * reported before one in the file.
 */
export function readWhileConnecting<F>(
  ctx: CommandContext,
  readFiles: () => F,
): (connected: Promise<pg.Client>) => Promise<ReadOnlyStart<F>> {
  return async (connected) => {
    const taken =
      !ctx.config.fullVerify && expectedFileMayExist(ctx)
        ? connected.then(takeFingerprintIfRecorded)
        : undefined;
    const recorded = taken?.then((sent) => sent.recorded);
    const fingerprint = taken?.then((sent) => sent.fingerprint);
    // Awaited by the lookup; a failure before then must not count as unhandled.
    recorded?.catch(() => undefined);
    fingerprint?.catch(() => undefined);
    const reading = loadExpected(ctx);
    reading.catch(() => undefined);
    // Hashed for the lookup's key as soon as it is read, a chunk per turn of the event loop, while
    // the session logs in and the server takes the fingerprint (see lookupBehind); not to the end
    // when the probe shows there is nothing to look up (preflight's table does not exist).
    const nothingToLookUp = new AbortController();
    if (recorded) {
      void recorded.then(
        (exists) => {
          if (!exists) nothingToLookUp.abort();
        },
        () => undefined,
      );
      void reading.then(
        (expected) => expected?.hash?.(nothingToLookUp.signal),
        () => undefined,
      );
    }
    await loginFirst(connected);
    const files = readFiles();
    return {
      files,
      expected: await reading,
      fingerprint,
      recorded,
      stop: nothingToLookUp.signal,
    };
  };
}
