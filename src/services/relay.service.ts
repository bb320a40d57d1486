/**
 * The API relay as a service: find a lower node by its record id, open an ApiRelay
 * stream on its link and run one HTTP exchange over it. The HTTP route
 * (src/http/relay-route.ts) decides who may call it and moves the bytes; it never
 * touches the cascade server itself.
 */
import { relayRequest, StreamKind, type CascadeServer, type RelayOutcome, type RelayRequest } from '../../dataplane/cascade/index.js';
import { AppError, expectedError } from '../errors.js';
import type { ClientService } from './client.service.js';
import type { ClusterView, ReplicaRelay } from './cluster-view.js';

/** A lower node found online, ready to take a relayed request. */
interface RelayTarget {
  id: number;
  name: string;
  /** Set when another replica of this cluster holds its link: relays through that replica. */
  via?: ReplicaRelay;
}

export class RelayService {
  constructor(
    private readonly clients: ClientService,
    private readonly server: CascadeServer | null,
    private readonly cluster: ClusterView | null = null,
  ) {}

  /** Whether this node can relay at all (it is a cascade server). */
  get available(): boolean {
    return this.server !== null;
  }

  /**
   * The online lower node with record id `instance` (the path segment as given).
   * Throws NOT_FOUND for an unknown or malformed id, UNAVAILABLE when it is offline.
   */
  async target(instance: string, opts: { localOnly?: boolean } = {}): Promise<RelayTarget> {
    const id = /^[1-9]\d{0,14}$/.test(instance) ? Number(instance) : null;
    const record = id === null ? null : await this.clients.find(id);
    if (id === null || !record) throw new AppError('NOT_FOUND', `unknown instance ${instance.slice(0, 64)}`);
    if (this.server?.session(id)) return { id, name: record.name };
    // On a cluster replica: the replica holding the link relays it (never again from there).
    const via = opts.localOnly || !this.cluster ? null : await this.cluster.relayVia(id);
    if (!via) throw offline({ id, name: record.name });
    return { id, name: record.name, via };
  }

  /**
   * Relays one request to `target`. Resolves with the lower node's answer (a response
   * whose body streams, or its refusal); throws an AppError when the link fails.
   */
  async relay(target: RelayTarget, request: RelayRequest): Promise<RelayOutcome> {
    if (!this.server) throw new AppError('FORBIDDEN', 'API relay is not available: this node is not a cascade server');
    if (target.via) return target.via(request);
    let stream;
    try {
      stream = await this.server.openStream(target.id, StreamKind.ApiRelay);
    } catch {
      throw offline(target);
    }
    try {
      const outcome = await relayRequest(stream, request);
      if (outcome.kind === 'refused') return outcome;
      return { ...outcome, body: mapFailures(outcome.body) };
    } catch (err) {
      throw expectedError(err) ?? err;
    }
  }
}

function offline(target: RelayTarget): AppError {
  return new AppError('UNAVAILABLE', `instance ${target.id} (${target.name}) is offline`);
}

async function* mapFailures(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (err) {
    throw expectedError(err) ?? err;
  }
}
