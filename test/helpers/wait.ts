// Waiting on a condition with a generous timeout instead of a fixed sleep.
import { setTimeout as sleep } from 'node:timers/promises';

/** Calls fn every 100 ms until it returns something other than undefined; throws after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}
