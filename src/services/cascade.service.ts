/**
 * The cascade roles of this node as the APIs see them: live facts of lower
 * nodes' links (server role) and the state of the link up (client role).
 */
import type { UpperLink, UpperLinkStatus, CascadeServer, CascadeSessionInfo } from '../../dataplane/cascade/index.js';

export type UpstreamStatus = UpperLinkStatus;
export type LinkInfo = CascadeSessionInfo;

export class CascadeService {
  constructor(
    private readonly server: CascadeServer | null,
    private readonly client: UpperLink | null,
  ) {}

  /** Live link of lower node `clientId`, or null when it has none (or this node is no server). */
  link(clientId: number): LinkInfo | null {
    return this.server?.session(clientId) ?? null;
  }

  /** The link up to this node's upper node; null without the client role. */
  upstream(): UpstreamStatus | null {
    return this.client?.status() ?? null;
  }
}
