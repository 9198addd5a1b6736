import type { HostFs } from '../host/hostFs.js';
import type { CollectResult, MetricDesc } from '../model/types.js';

export interface Collector {
  /** Also the value of the `collector` label. */
  readonly name: string;
  /** Static, so it can be listed and tested. */
  readonly metrics: readonly MetricDesc[];
  /** Partial results are normal: what could not be read goes into problems. Throw only when the whole area failed. */
  collect(host: HostFs, signal: AbortSignal): Promise<CollectResult>;
}
