import { jest } from '@jest/globals';
import { loginFirst } from '../../src/pipeline/session-scope.js';

/** Whether a promise has settled, seen after the pending callbacks have run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return settled;
}

describe('loginFirst', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('resolves once the first statements are sent, without waiting out the grace', async () => {
    jest.useFakeTimers();
    let sent: () => void = () => undefined;
    const waiting = loginFirst(new Promise<void>((resolve) => (sent = resolve)), 10_000);
    expect(await isSettled(waiting)).toBe(false);
    sent();
    expect(await isSettled(waiting)).toBe(true);
    // The grace timer is gone: nothing is left to keep the process alive.
    expect(jest.getTimerCount()).toBe(0);
  });

  it('resolves after the grace when the server does not answer, and when connecting fails', async () => {
    jest.useFakeTimers();
    const never = loginFirst(new Promise<void>(() => undefined), 100);
    jest.advanceTimersByTime(99);
    expect(await isSettled(never)).toBe(false);
    jest.advanceTimersByTime(1);
    expect(await isSettled(never)).toBe(true);
    // A failed login is the session's error to report, not this wait's.
    await expect(loginFirst(Promise.reject(new Error('refused')), 100)).resolves.toBeUndefined();
    expect(jest.getTimerCount()).toBe(0);
  });
});
