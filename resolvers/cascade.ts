import type { AutoregisterStatus, UpstreamStatus } from '../src/services/cascade.service.js';
import type { AuthRejectedEvent } from '../src/services/events.js';
import { builder } from './builder.js';
import { ClientRef } from './client.js';
import { NodeRef } from './node.js';

// Live link facts of a lower node (server role).
builder.objectFields(ClientRef, (t) => ({
  rttMs: t.float({
    nullable: true,
    description: 'Round-trip time of its link from heartbeats, ms; null while offline.',
    resolve: (c, _a, ctx) => ctx.services.cascade.link(c.id)?.rttMs ?? null,
  }),
  remotePort: t.int({
    nullable: true,
    description: 'Remote UDP port of its live link.',
    resolve: (c, _a, ctx) => ctx.services.cascade.link(c.id)?.remotePort ?? null,
  }),
  linkLastSeen: t.field({
    type: 'DateTime',
    nullable: true,
    description: 'When its live link last answered (heartbeat), updated continuously while online.',
    resolve: (c, _a, ctx) => ctx.services.cascade.link(c.id)?.lastSeen ?? null,
  }),
}));

const UpstreamStateEnum = builder.enumType('UpstreamState', {
  values: ['STOPPED', 'CONNECTING', 'ONLINE', 'BACKOFF', 'REJECTED'] as const,
});

const UpstreamTrustEnum = builder.enumType('UpstreamTrust', {
  description: 'How the upper node is verified (cascade-client.trust).',
  values: {
    PIN: { description: 'Its certificate must have the pinned fingerprint (cascade-client.fingerprint).' },
    CA: { description: 'Its certificate must chain to cascade-client.cafile and be valid for the host dialled.' },
    TOFU: { description: 'Trust on first use: the first fingerprint seen (serverFingerprint) is kept in the datadir; a change is refused.' },
  } as const,
});

const UpstreamServerStateEnum = builder.enumType('UpstreamServerState', {
  description: 'What a configured upper node is to this node (cascade-client.servers).',
  values: {
    CURRENT: { description: 'The link in use, or being opened.' },
    STANDBY: { description: 'Reachable at the last probe, or not tried yet.' },
    DOWN: { description: 'The last link or probe failed; tried again at nextRetryAt.' },
  } as const,
});

const UpstreamServerRef = builder.objectRef<UpstreamStatus['servers'][number]>('UpstreamServer').implement({
  description: 'One configured upper node (cascade-client.servers, or the one server).',
  fields: (t) => ({
    server: t.exposeString('server', { description: '"host:port".' }),
    priority: t.exposeInt('priority', { description: 'Lower is preferred; equal priorities are spread by rendezvous hashing of the node name.' }),
    state: t.field({ type: UpstreamServerStateEnum, resolve: (s) => (s.state === 'current' ? 'CURRENT' : s.state === 'down' ? 'DOWN' : 'STANDBY') }),
    lastError: t.exposeString('lastError', { nullable: true, description: 'Why its last link or probe failed.' }),
    lastErrorAt: t.expose('lastErrorAt', { type: 'DateTime', nullable: true }),
    nextRetryAt: t.expose('nextRetryAt', { type: 'DateTime', nullable: true, description: 'When a down server is tried again.' }),
    healthySince: t.expose('healthySince', { type: 'DateTime', nullable: true, description: 'Since when it has answered without a break.' }),
  }),
});

const UpstreamSwitchRef = builder.objectRef<NonNullable<UpstreamStatus['lastSwitch']>>('UpstreamSwitch').implement({
  description: 'A move of the link up from one upper node to another.',
  fields: (t) => ({
    from: t.exposeString('from', { nullable: true }),
    to: t.exposeString('to'),
    reason: t.exposeString('reason', { description: '"failover: <why the link was lost>" or "failback: …".' }),
    at: t.expose('at', { type: 'DateTime', description: 'When the new link came up.' }),
    tookMs: t.exposeInt('tookMs', { description: 'From the decision to move to the new link online.' }),
  }),
});

const UpstreamRef = builder.objectRef<UpstreamStatus>('Upstream').implement({
  description: "This node's link to its upper node (client role).",
  fields: (t) => ({
    server: t.exposeString('server', { description: '"host:port" of the upper node.' }),
    state: t.field({
      type: UpstreamStateEnum,
      resolve: (s) => s.state.toUpperCase() as 'STOPPED' | 'CONNECTING' | 'ONLINE' | 'BACKOFF' | 'REJECTED',
    }),
    since: t.expose('since', { type: 'DateTime', description: 'When the current state began.' }),
    rttMs: t.exposeFloat('rttMs', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true, description: 'Why the last link or attempt ended.' }),
    lastErrorCode: t.exposeInt('lastErrorCode', { nullable: true }),
    clientId: t.exposeInt('clientId', { nullable: true, description: 'Our record id at the upper node.' }),
    clientName: t.exposeString('clientName', { nullable: true }),
    serverName: t.exposeString('serverName', { nullable: true }),
    serverVersion: t.exposeString('serverVersion', { nullable: true }),
    serverFingerprint: t.exposeString('serverFingerprint', { nullable: true }),
    trust: t.field({ type: UpstreamTrustEnum, resolve: (s) => (s.trust === 'pin' ? 'PIN' : s.trust === 'ca' ? 'CA' : 'TOFU') }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true }),
    servers: t.field({ type: [UpstreamServerRef], description: 'Every configured upper node, most preferred first.', resolve: (s) => s.servers }),
    lastSwitch: t.field({ type: UpstreamSwitchRef, nullable: true, description: 'The last move to another upper node.', resolve: (s) => s.lastSwitch }),
  }),
});

const AutoregisterRef = builder.objectRef<AutoregisterStatus>('Autoregister').implement({
  description: 'Auto-registration of lower nodes: the effective bounds (0: no bound) and the counts (server role).',
  fields: (t) => ({
    enabled: t.exposeBoolean('enabled', { description: 'cascade-server.autoregister.' }),
    perAddressPerHour: t.exposeInt('perAddressPerHour', { description: 'Records one source address may create per hour.' }),
    perHour: t.exposeInt('perHour', { description: 'Records created per hour in all.' }),
    ratePerSec: t.exposeFloat('ratePerSec', { description: 'Records created per second in the long run.' }),
    burst: t.exposeInt('burst', { description: 'Records created at once after a quiet period.' }),
    created: t.exposeInt('created', { description: 'Records created by auto-registration since start.' }),
    createdThisHour: t.exposeInt('createdThisHour', { description: 'Records created in the current hour window.' }),
    refused: t.exposeInt('refused', { description: 'Registrations refused by the bounds since start (each also an authRejected event).' }),
  }),
});

builder.objectField(NodeRef, 'autoregister', (t) =>
  t.field({
    type: AutoregisterRef,
    nullable: true,
    description: 'Auto-registration bounds and counts; null without the cascade server role.',
    resolve: (_n, _a, ctx) => ctx.services.cascade.autoregister(),
  }),
);

const AuthRejectedRef = builder.objectRef<AuthRejectedEvent>('AuthRejected').implement({
  description: 'A lower node that tried to connect and was refused.',
  fields: (t) => ({
    remoteAddress: t.exposeString('remoteAddress'),
    name: t.exposeString('name', { nullable: true }),
    code: t.exposeInt('code'),
    reason: t.exposeString('reason'),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

builder.queryField('upstream', (t) =>
  t.field({
    type: UpstreamRef,
    nullable: true,
    description: 'The link up to the upper node; null when this node has no cascade-client role.',
    resolve: (_r, _a, ctx) => ctx.services.cascade.upstream(),
  }),
);

builder.subscriptionFields((t) => ({
  upstreamChanged: t.field({
    type: UpstreamRef,
    description: 'Every state change of the link up, every move to another upper node, and every configured upper node going down or coming back.',
    subscribe: (_r, _a, ctx) => ctx.services.events.subscribe('upstreamChanged'),
    resolve: (s) => s,
  }),
  authRejected: t.field({
    type: AuthRejectedRef,
    description: 'Refused connection attempts of lower nodes (server role).',
    subscribe: (_r, _a, ctx) => ctx.services.feed.subscribe('authRejected'),
    resolve: (e) => e,
  }),
}));
