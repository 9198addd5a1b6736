// Adaptive polling of a cgroup's usage where the kernel has no thresholds (cgroup v2; v1 without write access to
// cgroup.event_control, or past EMFILE): when to read it next. Pure: no IO, no timers.
//
// The rule (issue 14): a cgroup whose next threshold not yet crossed is H bytes above its usage is read again
// H / rate later, rate being the allocation rate polling is sized for (--watch.alloc-rate, 1 GiB/s by default) or the
// rate seen since its last read when that was faster. A process allocating at that rate or slower cannot cross the
// threshold between two reads: the read that sees the crossing comes at the latest as the crossing happens, and from
// there reads come every MIN_POLL_MS. This holds for any H, so the interval is bounded by the rate, not by
// --watch.poll-interval; the ceiling only keeps readings of large, idle cgroups from getting older than that.
// The same argument makes 2 ms safe at 2 MiB from a threshold and 200 ms safe at 200 MiB from it.
//
// Reads that are due at about the same time share one timer wake-up: a due time is moved earlier, never later, onto a
// grid (a power of two of at most an eighth of the delay: at most 12.5 % early, which costs at most 14 % more reads);
// far cgroups sit on the --watch.poll-interval grid.

/** The allocation rate polling is sized for by default: 1 GiB/s. */
export const FAST_ALLOC_BYTES_PER_S = 2 ** 30;
/** The shortest gap between two reads of one cgroup. */
export const MIN_POLL_MS = 2;
/** Delays shorter than this are not placed on a grid (the grid step would be under 2 ms). */
const GRID_MIN_DELAY_MS = 16;

/**
 * The latest safe time (ms from now) of the next read: how long usage needs to reach `nextBytes` (the next threshold
 * not yet crossed, or the limit), at `rateBytesPerS` or at the rate seen since the last read (`seenBytesPerS`), the
 * faster of the two. At least MIN_POLL_MS.
 */
export function safeDelayMs(usageBytes: number, nextBytes: number, rateBytesPerS: number, seenBytesPerS = 0): number {
  const rate = seenBytesPerS > rateBytesPerS ? seenBytesPerS : rateBytesPerS;
  const distance = nextBytes > usageBytes ? nextBytes - usageBytes : 0;
  const ms = (distance * 1000) / rate;
  return ms > MIN_POLL_MS ? ms : MIN_POLL_MS;
}

/**
 * When to read next (same clock as `nowMs`), given the latest safe delay and the ceiling (--watch.poll-interval):
 * never after nowMs + safeMs, nor after nowMs + ceilingMs + 1 ms (on the ceiling's grid a wake-up may come a
 * millisecond early), never before nowMs + MIN_POLL_MS.
 */
export function nextReadAtMs(nowMs: number, safeMs: number, ceilingMs: number): number {
  const earliest = nowMs + MIN_POLL_MS;
  if (safeMs >= ceilingMs) {
    // The nearest point of the ceiling grid (not the next one after: a wake-up a little late or early then does not
    // skip one or add one), unless that is after the latest safe time.
    let at = Math.round((nowMs + ceilingMs) / ceilingMs) * ceilingMs;
    // Joining the grid: the point before, rather than one more than a ceiling away (1 ms: a wake-up a little early).
    if (at > nowMs + ceilingMs + 1) at -= ceilingMs;
    if (at <= nowMs + safeMs) return at > earliest ? at : earliest;
  }
  const delay = safeMs < ceilingMs ? safeMs : ceilingMs;
  if (delay < GRID_MIN_DELAY_MS) return nowMs + delay;
  // 2 ** floor(log2(delay / 8)): the highest bit of its integer part (delay / 8 >= 2 here), without a call of
  // Math.pow and Math.log2 per read (a perf profile of the idle poller showed ieee754::pow).
  const eighth = delay / 8;
  const step = eighth < 2 ** 30 ? 1 << (31 - Math.clz32(eighth)) : 2 ** Math.floor(Math.log2(eighth));
  const at = Math.floor((nowMs + delay) / step) * step;
  return at > earliest ? at : earliest;
}
