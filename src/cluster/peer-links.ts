/**
 * Cascade links between replicas, for streams: a player on this replica asking for a
 * stream another replica has gets it pulled from that replica over a QUIC cascade link
 * (the same link and on-demand pull code as between a node and its lower nodes, with
 * the GOP start, closed by the on-demand grace after the last player left). The link
 * authenticates with `cluster.secret` and pins the peer's certificate fingerprint it
 * advertised in its lease; it is opened on first use and kept while the peer lives.
 */
import { UpperLink, type PeerStreams, type StreamPeer } from '../../dataplane/cascade/index.js';
import type { StreamKindValue } from '../../dataplane/protocol/index.js';
import type { LinkStream, Transport } from '../../dataplane/transport/index.js';
import { CascadeError } from '../../dataplane/cascade/index.js';
import type { Logger } from '../logger.js';
import type { ReplicaFacts } from './replica-membership.js';

/** How long a stream open waits for a new link to a peer to come up, ms. */
const LINK_UP_MS = 10_000;

interface PeerLinksOptions {
  transport: Transport;
  /** This replica's name (the HELLO name the peers recognise). */
  replica: string;
  secret: string;
  version: string;
  logger: Logger;
  /** The live replica's facts, or undefined. */
  facts: (replica: string) => ReplicaFacts | undefined;
}

export class PeerLinks implements PeerStreams {
  /** Path → the replica that has it first-hand. */
  private index = new Map<string, string>();
  private readonly links = new Map<string, UpperLink>();
  private closed = false;

  constructor(private readonly o: PeerLinksOptions) {}

  /** Where each stream of the other replicas is (copies pulled from a replica left out). */
  setIndex(index: Map<string, string>): void {
    this.index = index;
  }

  find(path: string, exclude: readonly string[]): StreamPeer | null {
    const replica = this.index.get(path);
    const f = replica === undefined ? undefined : this.o.facts(replica);
    if (this.closed || !replica || !f?.quic || !f.fingerprint || exclude.includes(f.node)) return null;
    return { name: f.node, open: (kind) => this.open(replica, f, kind) };
  }

  private async open(replica: string, f: ReplicaFacts, kind: StreamKindValue): Promise<LinkStream> {
    let link = this.links.get(replica);
    if (!link) {
      link = new UpperLink({
        transport: this.o.transport,
        server: f.quic!,
        secret: this.o.secret,
        name: this.o.replica,
        version: this.o.version,
        verify: { fingerprint: f.fingerprint! },
        logger: this.o.logger.child({ peerReplica: replica }),
      });
      this.links.set(replica, link);
      link.start();
      this.o.logger.info({ peer: replica, quic: `${f.quic!.host}:${f.quic!.port}` }, 'cluster: stream link to replica opening');
    }
    await online(link);
    return link.openStream(kind);
  }

  /** The replica is gone: its link stops. */
  drop(replica: string): void {
    const link = this.links.get(replica);
    this.links.delete(replica);
    if (link) void link.stop();
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.links.values()];
    this.links.clear();
    await Promise.all(all.map((l) => l.stop()));
  }
}

/** Resolves once `link` is online (at once when it is); rejects when it is refused or does not come up in time. */
function online(link: UpperLink): Promise<void> {
  if (link.status().state === 'online') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      off();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new CascadeError('CASCADE_NOT_ONLINE', 'the link to the replica did not come up in time')), LINK_UP_MS);
    const off = link.on('stateChanged', (s) => {
      if (s.state === 'online') done();
      else if (s.state === 'rejected' || s.state === 'stopped') done(new CascadeError('CASCADE_NOT_ONLINE', `the replica refused the link: ${s.lastError ?? s.state}`));
    });
  });
}
