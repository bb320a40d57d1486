/** Display helpers. */

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
}

export function kbps(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)} Mb/s` : `${Math.round(v)} kb/s`;
}

export function since(iso: string | null | undefined): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}

export function direction(d: string): string {
  return d.toLowerCase().replace('_', ' ');
}
