/**
 * Random keys kept in the datadir: the HMAC key of stored secrets (upper node) and the
 * generated node key a lower node without `cascade-client.secret` registers with.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../config.js';

/** File names inside the datadir. */
export const SECRET_HMAC_KEY_FILE = 'secret-hmac.key';
export const NODE_KEY_FILE = 'cascade-node.key';

/**
 * Reads the key in `file` (base64url text, one line), or creates it with `bytes` random
 * bytes and mode 0600 when it does not exist. A file that is there but unreadable or
 * malformed stops the node with an error naming the file (a new key would silently
 * orphan every stored secret, or give this node a new identity).
 */
export async function loadOrCreateKeyFile(file: string, bytes = 32): Promise<string> {
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (!/^[A-Za-z0-9_-]{32,}$/.test(text)) throw new ConfigError(`${file}: not a key (expected one line of base64url, at least 32 characters)`);
    return text;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  const key = randomBytes(bytes).toString('base64url');
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${key}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  return key;
}
