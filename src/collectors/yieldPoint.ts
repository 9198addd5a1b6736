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

  /** True when the slice is used up: then `await yp.turn()`. Checked per unit of work, without a promise. */
  due(): boolean {
    return performance.now() - this.last >= this.sliceMs;
  }

  /** Gives the event loop a turn, and stops an aborted collection. */
  async turn(): Promise<void> {
    await turn();
    this.signal.throwIfAborted();
    this.last = performance.now();
  }

  /** Await this between units of work: it yields only when the slice is used up, and stops an aborted collection. */
  async maybeYield(): Promise<void> {
    if (this.due()) await this.turn();
  }
}
