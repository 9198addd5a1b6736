// Waiting on a condition instead of sleeping a fixed time (the machine may be slow when shared).
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls fn every 50 ms until it returns something other than undefined, and returns that; throws
 * after timeoutMs naming `what` (and the last error fn threw, if any).
 */
export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last === undefined ? '' : `; last error: ${last instanceof Error ? last.message : String(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(50);
  }
}
