/**
 * The control plane's side of the cascade server: decides who may connect
 * (by secret, or by auto-registration), and keeps client records' online
 * state in the database as links come and go.
 */
import { CloseCode, closeReason } from '../../dataplane/protocol/index.js';
import {
  type AuthenticateRequest,
  type AuthenticateResult,
  type CascadeAuthority,
  type LinkDownInfo,
  type LinkUpInfo,
} from '../../dataplane/cascade/index.js';
import type { Logger } from '../logger.js';
import type { ClientService } from './client.service.js';

export class DatabaseCascadeAuthority implements CascadeAuthority {
  constructor(
    private readonly clients: ClientService,
    private readonly autoregister: boolean,
    private readonly log: Logger,
  ) {}

  async authenticate(req: AuthenticateRequest): Promise<AuthenticateResult> {
    if (req.secret !== null) {
      const known = await this.clients.findBySecret(req.secret);
      if (known) return { ok: true, clientId: known.id, name: known.name };
      if (!this.autoregister) {
        return { ok: false, code: CloseCode.AuthUnknownSecret, reason: closeReason(CloseCode.AuthUnknownSecret) };
      }
    } else if (!this.autoregister) {
      return { ok: false, code: CloseCode.AuthSecretRequired, reason: closeReason(CloseCode.AuthSecretRequired) };
    }
    const rec = await this.clients.autoregister({ name: req.name, secret: req.secret, ip: req.remoteAddress });
    this.log.info({ clientId: rec.id, name: rec.name, remote: req.remoteAddress }, 'client auto-registered');
    return { ok: true, clientId: rec.id, name: rec.name, registered: true };
  }

  async linkUp(clientId: number, info: LinkUpInfo): Promise<void> {
    await this.clients.setOnline(clientId, { ip: info.remoteAddress, version: info.version, since: info.connectedSince });
  }

  async linkDown(clientId: number, _info: LinkDownInfo): Promise<void> {
    await this.clients.setOffline(clientId);
  }
}
