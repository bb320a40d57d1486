/**
 * The node-wide bound on bytes held in unfinished RTMP messages (across all
 * connections). Each connection's decoder draws from it through its own
 * {@link PendingAccount}. When the budget is full, the connection holding the
 * most gives way: a bigger holder than the one asking is evicted (closed with a
 * reason), else the one asking is refused. A publisher sending one frame at a
 * time therefore outlasts connections that pile up unfinished messages.
 */

/** What a decoder needs of an account. */
export interface PendingAllowance {
  /** Takes `n` more bytes; false when the budget cannot hold them. */
  grow(n: number): boolean;
  /** Gives `n` bytes back. */
  shrink(n: number): void;
}

/** One connection's share of a {@link PendingBudget}. */
export class PendingAccount implements PendingAllowance {
  /** Bytes this connection holds now. */
  bytes = 0;
  closed = false;

  constructor(
    private readonly budget: PendingBudget,
    /** Called (once) when the budget evicts this connection. */
    readonly onEvict: (reason: string) => void,
  ) {}

  grow(n: number): boolean {
    if (this.closed) return false;
    return this.budget.grow(this, n);
  }

  shrink(n: number): void {
    if (this.closed) return;
    const m = Math.min(n, this.bytes);
    this.bytes -= m;
    this.budget.used -= m;
  }

  /** Gives everything back and leaves the budget. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.shrink(this.bytes);
    this.closed = true;
    this.budget.leave(this);
  }
}

/** Bytes of unfinished messages across every RTMP connection; `limit` 0: no bound. */
export class PendingBudget {
  /** Bytes held now, all connections together. */
  used = 0;
  /** Connections evicted so far. */
  evictions = 0;
  private readonly accounts = new Set<PendingAccount>();

  constructor(readonly limit: number) {}

  /** A new connection's account. */
  open(onEvict: (reason: string) => void): PendingAccount {
    const a = new PendingAccount(this, onEvict);
    this.accounts.add(a);
    return a;
  }

  /** @internal */
  leave(a: PendingAccount): void {
    this.accounts.delete(a);
  }

  /** @internal */
  grow(a: PendingAccount, n: number): boolean {
    while (this.limit > 0 && this.used + n > this.limit) {
      let top: PendingAccount | null = null;
      for (const other of this.accounts) if (other !== a && other.bytes > (top?.bytes ?? a.bytes + n)) top = other;
      if (top === null) return false;
      this.evictions++;
      const held = top.bytes;
      top.close();
      top.onEvict(`node-wide limit of ${this.limit} bytes in unfinished RTMP messages reached and this connection held the most (${held})`);
    }
    a.bytes += n;
    this.used += n;
    return true;
  }
}
