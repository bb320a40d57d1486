/**
 * Stateless retry (RFC 9000 8.1.2): address-validation tokens bound to the
 * client's address and original DCID by an HMAC, valid for a short time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const MAC_LEN = 32;
/** How long a retry token is accepted, in ms. */
const RETRY_TOKEN_LIFETIME_MS = 10_000; // 10 seconds

/** Mints and checks retry tokens with a per-listener secret. */
export class RetryTokens {
  private readonly key = randomBytes(32);

  /** Token: 8-byte issue time, 1-byte ODCID length, ODCID, HMAC over all that and the address. */
  mint(address: string, port: number, odcid: Uint8Array, now = Date.now()): Buffer {
    const body = Buffer.alloc(9 + odcid.byteLength);
    body.writeBigUInt64BE(BigInt(now), 0);
    body[8] = odcid.byteLength;
    Buffer.from(odcid).copy(body, 9);
    return Buffer.concat([body, this.mac(address, port, body)]);
  }

  /** The original DCID carried by a valid token from this address, or null. */
  check(token: Uint8Array, address: string, port: number, now = Date.now()): Buffer | null {
    const t = Buffer.from(token);
    if (t.byteLength < 9 + MAC_LEN) return null;
    const len = t[8] ?? 0;
    if (t.byteLength !== 9 + len + MAC_LEN || len > 20) return null;
    const body = t.subarray(0, 9 + len);
    if (!timingSafeEqual(t.subarray(9 + len), this.mac(address, port, body))) return null;
    const issued = Number(t.readBigUInt64BE(0));
    if (now - issued > RETRY_TOKEN_LIFETIME_MS || issued - now > 1_000) return null;
    return Buffer.from(body.subarray(9));
  }

  private mac(address: string, port: number, body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(`${address}|${port}|`).update(body).digest();
  }
}
