// What a sink is: it only translates snapshots (model/ types) into one wire format. The runner
// produces the snapshots; http/ and main depend on these interfaces, not on a concrete sink.
import type { Sample, Snapshot } from '../model/types.js';

/** Where sinks get snapshots: the runner (scrapes and exports within --collect.min-interval share one). */
export interface SnapshotSource {
  collect(): Promise<Snapshot>;
}

/** A pull sink: renders a snapshot when a client asks (the Prometheus exposition at /metrics). */
export interface ExpositionSink {
  /** The format a client asked for (an Accept header), as this sink names it. */
  negotiate(accept: string | undefined): string;
  contentType(format: string): string;
  /**
   * Renders one snapshot as the bytes to send; the same snapshot asked for twice may be rendered once. Say
   * done() when they are sent, so that their memory can serve a later body (never touch them after).
   */
  body(format: string, snapshot: Snapshot): Promise<Buffer>;
  done(format: string, body: Buffer): void;
  /**
   * The same bytes as body(), in pieces: each handed to `write` (`last` with the final one), the next written only once its promise has
   * resolved (the caller is then done with the piece's bytes, whose memory serves the next piece). Rejects as
   * `write` does. What /metrics sends: no buffer of the whole body.
   */
  stream(format: string, snapshot: Snapshot, write: (piece: Buffer, last: boolean) => Promise<void>): Promise<void>;
  /** The same as text (tests, tools). */
  render(format: string, snapshot: Snapshot): Promise<string>;
}

/** A push sink: sends on its own schedule, asking the source for snapshots (OTLP). */
export interface PushSink {
  start(): void;
  /** Its own metrics (exports by result), added to every snapshot by the runner. */
  samples(): Sample[];
  /** Sends what is pending, then stops. */
  close(): Promise<void>;
}
