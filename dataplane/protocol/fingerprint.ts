/** A certificate fingerprint in canonical form: "sha256:" + 64 lowercase hex digits. */
export type Fingerprint = `sha256:${string}`;

/**
 * Normalise a SHA-256 fingerprint as an operator may write it ("sha256:AB:CD:…",
 * "SHA256:abcd…", or bare hex) to the canonical form. Returns null when it is not a
 * SHA-256 fingerprint.
 */
export function normalizeFingerprint(input: string): Fingerprint | null {
  let s = input.trim();
  const m = /^sha-?256:/i.exec(s);
  if (m) s = s.slice(m[0].length);
  s = s.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(s)) return null;
  return `sha256:${s}`;
}
