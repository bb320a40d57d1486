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
import { MIN_SECRET_LENGTH, type ClientService } from './client.service.js';

/** The cascade server's live links (CascadeServer#sessions), for re-syncing online states. */
type LiveLinks = () => ReadonlyArray<{ clientId: number; remoteAddress: string; version: string; connectedSince: Date }>;

/** First retry of a re-sync after a failed status update; doubles up to the max. */
const RESYNC_FIRST_MS = 1_000;
const RESYNC_MAX_MS = 10_000;

export class DatabaseCascadeAuthority implements CascadeAuthority {
  private live: LiveLinks | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private resyncing = false;
  /** Link status updates started (to see whether one ran during a re-sync). */
  private updates = 0;
  private closed = false;

  constructor(
    private readonly clients: ClientService,
    private readonly autoregister: boolean,
    private readonly log: Logger,
  ) {}

  /**
   * Where to read the live links from. With it, a status update that fails (database
   * unreachable) is not lost: the records are re-synced with the live links once the
   * database answers again (retried with backoff).
   */
  setLiveLinks(live: LiveLinks): void {
    this.live = live;
  }

  /** Stops pending re-syncs. */
  close(): void {
    this.closed = true;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.resyncTimer = null;
  }

  private scheduleResync(delayMs: number): void {
    if (this.closed || !this.live || this.resyncTimer || this.resyncing) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null;
      void this.resync(delayMs);
    }, delayMs);
    this.resyncTimer.unref();
  }

  private async resync(delayMs: number): Promise<void> {
    const live = this.live;
    if (!live || this.closed) return;
    this.resyncing = true;
    const before = this.updates;
    try {
      const links = live().map((l) => ({ id: l.clientId, ip: l.remoteAddress, version: l.version, since: l.connectedSince }));
      const changed = await this.clients.syncOnline(links);
      this.log.info({ live: links.length, ...changed }, 'client online states re-synced with the live links');
      this.resyncing = false;
      // A link came or went meanwhile: its own update may have raced with ours.
      if (this.updates !== before) this.scheduleResync(100);
    } catch (err) {
      this.resyncing = false;
      const next = Math.min(delayMs * 2, RESYNC_MAX_MS);
      this.log.warn({ err: (err as Error).message, retryInMs: next }, 're-sync of client online states failed; retrying');
      this.scheduleResync(next);
    }
  }

  /**
   * Every link is bound to a secret (docs/SECURITY.md): a HELLO without one is
   * refused whatever its name, and a record is only ever found by its secret. With
   * autoregister an unknown secret creates a record bound to it, within the server's
   * registration limits.
   */
  async authenticate(req: AuthenticateRequest): Promise<AuthenticateResult> {
    if (req.secret === null) {
      return { ok: false, code: CloseCode.AuthSecretRequired, reason: closeReason(CloseCode.AuthSecretRequired) };
    }
    const found = await this.clients.findBySecret(req.secret, req.name);
    if (found.kind === 'found') return { ok: true, clientId: found.client.id, name: found.client.name };
    if (found.kind === 'ambiguous') {
      this.log.warn({ name: req.name, remote: req.remoteAddress }, 'secret shared by several client records, none named like this client: refused');
      return { ok: false, code: CloseCode.AuthFailed, reason: 'authentication failed: this secret is shared by several client records and none has this name' };
    }
    if (!this.autoregister) {
      return { ok: false, code: CloseCode.AuthUnknownSecret, reason: closeReason(CloseCode.AuthUnknownSecret) };
    }
    if (req.secret.length < MIN_SECRET_LENGTH) {
      return { ok: false, code: CloseCode.AuthFailed, reason: `authentication failed: a new secret must be at least ${MIN_SECRET_LENGTH} characters` };
    }
    const admitted = req.admitRegistration();
    if (!admitted.ok) {
      return { ok: false, code: CloseCode.RegistrationLimited, reason: closeReason(CloseCode.RegistrationLimited), retryAfterMs: admitted.retryAfterMs };
    }
    const rec = await this.clients.autoregister({ name: req.name, secret: req.secret, ip: req.remoteAddress });
    this.log.info({ clientId: rec.id, name: rec.name, remote: req.remoteAddress }, 'client auto-registered');
    return { ok: true, clientId: rec.id, name: rec.name, registered: true };
  }

  async linkUp(clientId: number, info: LinkUpInfo): Promise<void> {
    this.updates++;
    try {
      await this.clients.setOnline(clientId, { ip: info.remoteAddress, version: info.version, since: info.connectedSince });
    } catch (err) {
      this.scheduleResync(RESYNC_FIRST_MS);
      throw err;
    }
  }

  async linkDown(clientId: number, _info: LinkDownInfo): Promise<void> {
    this.updates++;
    try {
      await this.clients.setOffline(clientId);
    } catch (err) {
      this.scheduleResync(RESYNC_FIRST_MS);
      throw err;
    }
  }
}
