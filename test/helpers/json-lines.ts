/**
 * Splits a node's stdout into lines and hands each JSON log line (pino) to
 * `onLine`; lines that are not JSON go to `onText` when given.
 */
import type { Readable } from 'node:stream';

export function onJsonLines(
  stream: Readable,
  onLine: (line: Record<string, unknown>, raw: string) => void,
  onText?: (raw: string) => void,
): void {
  let buf = '';
  stream.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const raw = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let obj: unknown;
      try {
        obj = JSON.parse(raw);
      } catch {
        onText?.(raw);
        continue;
      }
      if (obj !== null && typeof obj === 'object') onLine(obj as Record<string, unknown>, raw);
      else onText?.(raw);
    }
  });
}
