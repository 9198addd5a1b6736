// Waiting on a condition in tests instead of sleeping a fixed time: poll until the value is there,
// fail naming what was awaited when the deadline passes. Generous deadlines: the machine may be shared.
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `fn` until it returns something other than undefined, and returns that. */
export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, pollMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** waitFor for a yes/no condition. */
export async function until(what: string, pred: () => boolean, timeoutMs: number, pollMs = 5): Promise<void> {
  await waitFor(what, () => (pred() ? true : undefined), timeoutMs, pollMs);
}
