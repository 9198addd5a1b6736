// A collection of thousands of processes is 150-400 ms of synchronous reads. Kernel events
// (thresholds, OOM reports) are handled on this same thread, so a collection gives the event
// loop a turn whenever it has held it for `sliceMs` (DESIGN.md, "Seeing the OOM coming").
import { setImmediate as turn } from 'node:timers/promises';

export class YieldPoint {
  private last = performance.now();

  constructor(
    private readonly signal: AbortSignal,
    private readonly sliceMs = 2,
  ) {}

  /** Await this between units of work: it yields only when the slice is used up, and stops an aborted collection. */
  async maybeYield(): Promise<void> {
    if (performance.now() - this.last < this.sliceMs) return;
    await turn();
    this.signal.throwIfAborted();
    this.last = performance.now();
  }
}
