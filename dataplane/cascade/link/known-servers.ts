import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { normalizeFingerprint } from '../../protocol/index.js';

/** The key of a server in the known-servers file: "host:port", IPv6 in brackets. */
export function serverKey(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One trusted server. */
export interface KnownServer {
  fingerprint: string;
  /** The comment after '#', e.g. "first seen 2026-11-25T02:00:00.000Z". */
  comment: string;
}

/**
 * Parse a known-servers file (PROTOCOL.md §7): `host:port sha256:HEX [# comment]` per
 * line; blank lines, '#' lines and malformed lines are skipped. The first entry of a
 * key wins.
 */
export function parseKnownServers(text: string): Map<string, KnownServer> {
  const out = new Map<string, KnownServer>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const hash = line.indexOf('#');
    const body = (hash >= 0 ? line.slice(0, hash) : line).trim();
    const comment = hash >= 0 ? line.slice(hash + 1).trim() : '';
    const [key, fp, ...rest] = body.split(/\s+/);
    if (!key || !fp || rest.length > 0) continue;
    const fingerprint = normalizeFingerprint(fp);
    if (!fingerprint || out.has(key)) continue;
    out.set(key, { fingerprint, comment });
  }
  return out;
}

/** Result of a trust-on-first-use check. */
export type TofuResult =
  | { status: 'trusted' }
  | { status: 'added' }
  | { status: 'mismatch'; trusted: string; comment: string };

/** The trust-on-first-use store of a cascade client: a text file in its data dir. */
export class KnownServersFile {
  private chain: Promise<unknown> = Promise.resolve();
  constructor(readonly path: string) {}

  private async read(): Promise<string> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  }

  /** Look up `key`; store `fingerprint` when the key is new. Re-reads the file each time. */
  check(key: string, fingerprint: string): Promise<TofuResult> {
    const run = async (): Promise<TofuResult> => {
      const fp = normalizeFingerprint(fingerprint);
      if (!fp) throw new Error(`not a sha256 fingerprint: ${fingerprint}`);
      const text = await this.read();
      const known = parseKnownServers(text).get(key);
      if (known) {
        return known.fingerprint === fp ? { status: 'trusted' } : { status: 'mismatch', trusted: known.fingerprint, comment: known.comment };
      }
      const header = text === '' ? '# stream-cascade: servers trusted on first use (host:port fingerprint)\n' : '';
      const sep = text === '' || text.endsWith('\n') ? '' : '\n';
      const next = `${header}${text}${sep}${key} ${fp} # first seen ${new Date().toISOString()}\n`;
      await mkdir(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.${process.pid}.tmp`;
      await writeFile(tmp, next, { mode: 0o600 });
      await rename(tmp, this.path);
      return { status: 'added' };
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }
}
