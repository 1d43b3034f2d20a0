import { inBackground, settled } from '../../src/connection/background.js';

/** A promise and the function that settles it, to control when background work ends. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve: () => void = () => undefined;
  let reject: (e: Error) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('background work', () => {
  it('is waited for, including work started while waiting, and a failure is no error', async () => {
    const first = deferred();
    const second = deferred();
    const events: string[] = [];
    inBackground(
      first.promise.then(() => {
        events.push('first');
        inBackground(second.promise.then(() => events.push('second')));
      }),
    );
    const failing = deferred();
    inBackground(failing.promise);
    let done = false;
    const waiting = settled().then(() => {
      done = true;
    });
    failing.reject(new Error('the close failed'));
    first.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['first']);
    expect(done).toBe(false);
    second.resolve();
    await waiting;
    expect(events).toEqual(['first', 'second']);
  });

  it('is settled at once when there is none', async () => {
    await expect(settled()).resolves.toBeUndefined();
  });
});
