/**
 * The cascade roles of this node as the APIs see them: live facts of lower
 * nodes' links (server role) and the state of the link up (client role).
 */
import type { UpperLinkStatus, UpstreamOverview, UpstreamSupervisor, CascadeServer, CascadeSessionInfo } from '../../dataplane/cascade/index.js';

export type UpstreamStatus = UpperLinkStatus & UpstreamOverview;
type LinkInfo = CascadeSessionInfo;

/** Auto-registration of lower nodes as configured and as it went (server role). */
export interface AutoregisterStatus {
  enabled: boolean;
  /** Records per source address per hour; 0: no bound. */
  perAddressPerHour: number;
  /** Records per hour in all; 0: no bound. */
  perHour: number;
  /** Records per second in the long run; 0: no bound. */
  ratePerSec: number;
  burst: number;
  /** Records created since start, in the current hour, and refused by the bounds since start. */
  created: number;
  createdThisHour: number;
  refused: number;
}

export class CascadeService {
  constructor(
    private readonly server: CascadeServer | null,
    private readonly client: UpstreamSupervisor | null,
    private readonly autoregisterOn = false,
  ) {}

  /** Auto-registration limits and counters; null without the server role. */
  autoregister(): AutoregisterStatus | null {
    if (!this.server) return null;
    const l = this.server.registrationLimits;
    const st = this.server.registrationStats;
    return {
      enabled: this.autoregisterOn,
      perAddressPerHour: l.perAddress,
      perHour: l.perWindow,
      ratePerSec: l.ratePerSec,
      burst: l.burst,
      created: st.created,
      createdThisHour: st.createdInWindow,
      refused: st.refused,
    };
  }

  /** Live link of lower node `clientId`, or null when it has none (or this node is no server). */
  link(clientId: number): LinkInfo | null {
    return this.server?.session(clientId) ?? null;
  }

  /** The link up to this node's upper node; null without the client role. */
  upstream(): UpstreamStatus | null {
    return this.client ? { ...this.client.status(), ...this.client.overview() } : null;
  }
}
