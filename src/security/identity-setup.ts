/**
 * Start-up steps of the lower nodes' identity (docs/SECURITY.md): the upper
 * node's key for stored secrets, and the credential a lower node presents.
 */
import path from 'node:path';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { ClientService } from '../services/client.service.js';
import type { EventBus } from '../services/event-bus.js';
import type { NodeEvents } from '../services/events.js';
import { loadOrCreateKeyFile, NODE_KEY_FILE, SECRET_HMAC_KEY_FILE } from './key-file.js';
import { SecretDigest } from './secret-digest.js';

/**
 * The client records' service with this installation's secret key (created in the
 * datadir on first start, mode 0600), legacy digests converted.
 */
export async function openClientService(
  db: Database,
  events: EventBus<NodeEvents>,
  datadir: string,
  logger: Logger,
  /** A cluster replica: the database's key must be this one even before any secret is stored (the others use it). */
  shared = false,
): Promise<ClientService> {
  const keyFile = path.join(datadir, SECRET_HMAC_KEY_FILE);
  const clients = new ClientService(db, events, new SecretDigest(await loadOrCreateKeyFile(keyFile)));
  const converted = await clients.prepareSecrets(keyFile, shared);
  if (converted > 0) logger.info({ count: converted, keyFile }, 'stored client secrets converted to keyed digests (HMAC-SHA-256)');
  return clients;
}

/**
 * What this lower node presents to its upper node: `cascade-client.secret`, or else a
 * key generated once in the datadir (mode 0600), so that its record is bound to a
 * credential and never to its name alone. Also warns when the upper node is trusted on
 * first use without `cascade-client.trust: tofu` saying so.
 */
export async function lowerNodeSecret(config: Config, logger: Logger): Promise<string> {
  const cc = config.cascadeClient;
  if (cc && cc.trust === 'tofu' && !cc.trustExplicit) {
    logger.warn(
      { server: `${cc.server.host}:${cc.server.port}` },
      'the upper node is trusted on first use: whoever answers first at that address is believed from then on. ' +
        'Set cascade-client.fingerprint (its log line "cascade server listening" shows it) or cafile, or trust: tofu to accept this',
    );
  }
  const configured = config.cascadeClient?.secret ?? null;
  if (configured !== null) return configured;
  const file = path.join(config.datadir, NODE_KEY_FILE);
  const key = await loadOrCreateKeyFile(file);
  logger.info({ file }, 'no cascade-client.secret: this node identifies itself to its upper node with the key generated in its datadir (keep the file; a new one is a new identity)');
  return key;
}
