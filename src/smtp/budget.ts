/**
 * The memory budget for message bytes held by all SMTP sessions together
 * (`smtp.dataMemoryBytes`): a session takes bytes chunk by chunk as DATA
 * arrives and gives them back once its message is in the spool (or refused).
 * Without it, the message size limit times the connection limit is the bound
 * (25 MiB × 500 = 12 GiB); with it, a session that would pass the budget reads
 * its message to the end and gets 452 4.3.1, and its sender retries later.
 */
export class DataBudget {
  private used = 0;

  constructor(
    readonly max: number,
    private readonly onChange: (used: number) => void = () => undefined,
  ) {}

  /** Takes `bytes` if they fit; false (and nothing taken) when they do not. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.max) return false;
    this.used += bytes;
    this.onChange(this.used);
    return true;
  }

  release(bytes: number): void {
    if (bytes <= 0) return;
    this.used = Math.max(0, this.used - bytes);
    this.onChange(this.used);
  }

  get held(): number {
    return this.used;
  }

  get free(): number {
    return this.max - this.used;
  }
}
