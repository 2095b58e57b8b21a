/**
 * The server's notion of "now". Interaction deadlines (3 s to answer, 15 minutes of token life) are
 * checked against it, so tests can age an interaction without waiting: `clock.advance(16 * 60_000)`.
 */
export interface Clock {
  now(): number;
}

/** Wall-clock time plus an adjustable offset; the default clock of the loopback server. */
export class AdjustableClock implements Clock {
  #offsetMs = 0;

  now(): number {
    return Date.now() + this.#offsetMs;
  }

  /** Moves time forward (or backward with a negative value) for everything that reads this clock. */
  advance(ms: number): void {
    this.#offsetMs += ms;
  }

  reset(): void {
    this.#offsetMs = 0;
  }
}
