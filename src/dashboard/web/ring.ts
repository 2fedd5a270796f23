// Fixed-size buffers of the dashboard page: whatever the tick rate and however long the page stays open, it
// holds a bounded number of values. What goes in and how it is drawn is app.ts's business.

function checkCapacity(capacity: number): void {
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new RangeError(`ring capacity must be an integer >= 1, received ${capacity}`);
  }
}

/** The last `capacity` numbers pushed, oldest first; pushing onto a full ring drops the oldest. */
export class NumberRing {
  private readonly buf: Float64Array; // (capacity)
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    checkCapacity(capacity);
    this.buf = new Float64Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(value: number): void {
    this.buf[(this.start + this.count) % this.capacity] = value;
    if (this.count < this.capacity) this.count += 1;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** The i-th oldest value, 0 ≤ i < length. */
  at(i: number): number {
    if (i < 0 || i >= this.count) throw new RangeError(`index ${i} outside 0..${this.count - 1}`);
    return this.buf[(this.start + i) % this.capacity];
  }

  /** The newest value, or undefined when empty. */
  last(): number | undefined {
    return this.count === 0 ? undefined : this.at(this.count - 1);
  }

  clear(): void {
    this.start = 0;
    this.count = 0;
  }
}

/**
 * Forecasts by the seq they follow, for the last `capacity` seqs: slot seq % capacity, so a newer forecast
 * overwrites the one `capacity` ticks older. `get` answers only for the seq that occupies the slot.
 */
export class ForecastTable {
  private readonly seqs: Float64Array; // (capacity), NaN = empty
  private readonly values: Float64Array; // (capacity, horizon)

  constructor(
    readonly capacity: number,
    readonly horizon: number,
  ) {
    checkCapacity(capacity);
    checkCapacity(horizon);
    this.seqs = new Float64Array(capacity).fill(Number.NaN);
    this.values = new Float64Array(capacity * horizon);
  }

  set(seq: number, forecast: readonly number[]): void {
    if (forecast.length !== this.horizon) {
      throw new RangeError(
        `forecast after seq ${seq} has ${forecast.length} values, expected ${this.horizon}`,
      );
    }
    const slot = seq % this.capacity;
    this.seqs[slot] = seq;
    this.values.set(forecast, slot * this.horizon);
  }

  /** Value h (1-based) of the forecast made after tick `seq`, or null when not held. */
  get(seq: number, h: number): number | null {
    if (seq < 0 || h < 1 || h > this.horizon) return null;
    const slot = seq % this.capacity;
    return this.seqs[slot] === seq ? this.values[slot * this.horizon + h - 1] : null;
  }

  has(seq: number): boolean {
    return seq >= 0 && this.seqs[seq % this.capacity] === seq;
  }

  clear(): void {
    this.seqs.fill(Number.NaN);
  }
}

/** Events per second over the last second, from arrival times kept in a ring (measured in the page). */
export class RateMeter {
  private readonly times: NumberRing;

  constructor(capacity = 1024) {
    this.times = new NumberRing(capacity);
  }

  mark(nowMs: number): void {
    this.times.push(nowMs);
  }

  /** Events per second in the second before `nowMs` (or over the ring's span when it filled faster). */
  rate(nowMs: number): number {
    const n = this.times.length;
    if (n === 0) return 0;
    let i = n - 1;
    while (i >= 0 && this.times.at(i) > nowMs - 1000) i -= 1;
    const inWindow = n - 1 - i;
    if (i >= 0 || inWindow < this.times.capacity) return inWindow;
    const span = nowMs - this.times.at(0);
    return span > 0 ? (inWindow * 1000) / span : inWindow;
  }
}
