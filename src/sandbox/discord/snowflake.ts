/**
 * Discord-style snowflake ids: milliseconds since the Discord epoch shifted left by 22 bits, plus a
 * per-process increment. @discordjs/rest only treats 17-19 digit numbers as "major parameters" when it
 * groups routes into rate-limit buckets, so short made-up ids would give the client different buckets
 * than real Discord does.
 */

const DISCORD_EPOCH = 1_420_070_400_000n;

export class SnowflakeGenerator {
  #increment = 0n;
  #lastMs = 0n;

  constructor(private readonly now: () => number = Date.now) {}

  next(): string {
    let ms = BigInt(Math.floor(this.now()));
    // Ids must stay strictly increasing even if the (injectable) clock goes backwards.
    if (ms < this.#lastMs) ms = this.#lastMs;
    this.#lastMs = ms;
    this.#increment = (this.#increment + 1n) & 0xfffn;
    return (((ms - DISCORD_EPOCH) << 22n) | (1n << 17n) | this.#increment).toString();
  }
}
