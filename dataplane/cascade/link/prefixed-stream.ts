import type { LinkStream } from '../../transport/link.js';

/** A stream whose first read returns bytes already taken from it (after the kind byte). */
export class PrefixedStream implements LinkStream {
  private pending: Uint8Array | null;
  constructor(
    private readonly inner: LinkStream,
    pending: Uint8Array,
  ) {
    this.pending = pending.byteLength > 0 ? pending : null;
  }
  get id(): number {
    return this.inner.id;
  }
  get closed(): Promise<void> {
    return this.inner.closed;
  }
  read(): Promise<Uint8Array | null> {
    const p = this.pending;
    if (p) {
      this.pending = null;
      return Promise.resolve(p);
    }
    return this.inner.read();
  }
  write(data: Uint8Array): Promise<void> {
    return this.inner.write(data);
  }
  end(): Promise<void> {
    return this.inner.end();
  }
  reset(code?: number): void {
    this.inner.reset(code);
  }
}
