/**
 * Byte helpers. `Buffer#slice` does not copy (unlike `Uint8Array#slice`), so
 * code that may receive Buffers copies explicitly where it must not keep a
 * view of the caller's memory.
 */

/** A plain Uint8Array copy of `src[start, end)`. */
export function copyBytes(src: Uint8Array, start = 0, end = src.length): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(src.subarray(start, end));
  return out;
}
