// The client's own rate limit, learnt from the server's RATE_LIMITED answers (pm_client's
// Pacer, the same rule). A client that sends faster than its connection's rate is refused,
// waits, and sends again: every other frame a refusal, and enough refusals in a row close the
// connection (1008). Once refused, the client spaces every send (new requests and retries
// alike: the bucket is the connection's) at a little under the rate the server stated
// (Error.rate_per_second), and never before the time it was told (retry_after_ms), so the
// server's bucket refills ahead of the client instead of being found empty. Before the first
// refusal nothing is paced: a client within its limits pays nothing.
//
// Pure state driven with explicit times (ms); the client sleeps for what delay() returns.

/** The share of the stated rate the client uses: room for jitter on the way. */
export const HEADROOM = 0.95;

export class Pacer {
  /** Sends per second once learnt (0: not paced). */
  rate = 0;
  private next = 0;

  /** The server refused a request at `now`: send nothing before its retry time. */
  refused(now: number, retryAfterMs: number, ratePerSecond: number): void {
    if (ratePerSecond > 0) this.rate = ratePerSecond * HEADROOM;
    this.next = Math.max(this.next, now + retryAfterMs);
  }

  /** Milliseconds to wait before the next send (and book that send's place). */
  delay(now: number): number {
    if (this.rate === 0) return Math.max(0, this.next - now);
    const sendAt = Math.max(now, this.next);
    this.next = sendAt + 1000 / this.rate;
    return sendAt - now;
  }
}
