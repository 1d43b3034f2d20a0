/*
 * Work left running in the background (closing a connection that is no longer needed, cancelling
 * a statement from a second connection): nothing awaits it, but the process must not end before
 * it is done. main waits for it (settled), so that the CLI entry may end the process as soon as
 * main returns.
 */

const running = new Set<Promise<void>>();

/** Runs `work` in the background: settled() waits for it; its failure is its own business. */
export function inBackground(work: Promise<unknown>): void {
  const tracked: Promise<void> = work
    .then(
      () => undefined,
      () => undefined,
    )
    .finally(() => running.delete(tracked));
  running.add(tracked);
}

/** Resolves once no background work is left (including work that what it waited for started). */
export async function settled(): Promise<void> {
  while (running.size > 0) await Promise.all(running);
}
