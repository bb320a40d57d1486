/**
 * What replicas send each other through Redis: JSON that keeps Dates (events and
 * stream facts carry them).
 */
/** JSON that keeps Dates (events carry them). */
export function encode(v: unknown): string {
  return JSON.stringify(v, function (this: Record<string, unknown>, k: string, val: unknown) {
    const raw = this[k];
    return raw instanceof Date ? { $date: raw.toISOString() } : val;
  });
}

export function decode(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$date === 'string' && Object.keys(o).length === 1) return new Date(o.$date);
    }
    return v;
  });
}
