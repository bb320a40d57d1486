/**
 * Counts open connections per source address and refuses one past the bound.
 * IPv4 addresses (also IPv4-mapped IPv6) count one by one; IPv6 addresses by
 * their /64, the block one host usually gets, so a host cannot step around the
 * bound by rotating through its own addresses.
 */

/** The key an address is counted under: the IPv4 address, or the IPv6 /64. */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address.length === 0) return '?';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head.length > 0 ? head.split(':') : [];
  const right = tail.length > 0 ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '').toLowerCase()).join(':')}::/64`;
}

/** Per-address connection slots. `max` 0: no bound. */
export class AddressSlots {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes a slot for `address`; returns its key, or null when the address is at its bound. */
  take(address: string | undefined): string | null {
    const key = addressKey(address);
    const n = this.counts.get(key) ?? 0;
    if (this.max > 0 && n >= this.max) return null;
    this.counts.set(key, n + 1);
    return key;
  }

  /** Gives back a slot taken under `key`. */
  release(key: string): void {
    const n = (this.counts.get(key) ?? 1) - 1;
    if (n <= 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }

  /** Open connections of the address with this key. */
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}
