// Reconnect delays. Exponential with jitter, capped; the attempt count goes back to zero only
// once a connection has stayed up for `stableMs`. A server that accepts the upgrade and then
// drops every connection at once (a crash loop, a tenant being restored) therefore sees each
// client slow down to the cap instead of hammering it at the first delay forever.

export interface BackoffOptions {
  /** The first delay, before jitter (ms). */
  firstMs?: number;
  /** The cap (ms). */
  maxMs?: number;
  /** How long a connection must last for the next drop to start again from `firstMs`. */
  stableMs?: number;
  /** A number in [0, 1); Math.random by default (tests pass their own). */
  random?: () => number;
}

export class Backoff {
  readonly firstMs: number;
  readonly maxMs: number;
  readonly stableMs: number;
  private readonly random: () => number;
  private attempt = 0;
  private connectedAt: number | undefined;

  constructor(options: BackoffOptions = {}) {
    this.firstMs = options.firstMs ?? 100;
    this.maxMs = options.maxMs ?? 5000;
    this.stableMs = options.stableMs ?? 10_000;
    this.random = options.random ?? Math.random;
  }

  /** How many delays were handed out since the last stable connection. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next connection attempt: 50-100% of the capped exponential. */
  next(): number {
    const full = Math.min(this.maxMs, this.firstMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return full * (0.5 + this.random() / 2);
  }

  /** A connection was established (the server's welcome arrived) at `now` (ms). */
  connected(now: number): void {
    this.connectedAt = now;
  }

  /** The connection dropped at `now` (ms): start over only if it had lasted. */
  dropped(now: number): void {
    if (this.connectedAt !== undefined && now - this.connectedAt >= this.stableMs) {
      this.attempt = 0;
    }
    this.connectedAt = undefined;
  }
}
