import type { NodeInfo, NodeRole } from '../src/services/index.js';
import type { NodeSecurity } from '../src/services/node-security.js';
import { builder } from './builder.js';

const NodeRoleEnum = builder.enumType('NodeRole', {
  values: ['CASCADE_SERVER', 'CASCADE_CLIENT', 'MEDIA'] as const satisfies readonly NodeRole[],
});

const NodeSecurityRef = builder.objectRef<NodeSecurity>('NodeSecurity').implement({
  description: 'The security settings in force on this node (never a secret).',
  fields: (t) => ({
    adminToken: t.exposeBoolean('adminToken', { description: 'http.token is set: changes, subscriptions and /api/relay need it.' }),
    protectReads: t.exposeBoolean('protectReads', { description: 'With the token, reads need it too (http.protectreads).' }),
    localMutationsOnly: t.exposeBoolean('localMutationsOnly', {
      description: 'No token: REST and GraphQL changes are accepted from this host only (a loopback caller through no proxy).',
    }),
    publishAuth: t.exposeBoolean('publishAuth', { description: 'rtmp.publish: publishing needs a key or the hook\'s consent.' }),
    publishHook: t.exposeBoolean('publishHook', { description: 'rtmp.publish.hook is asked before each publish.' }),
    relayApi: t.exposeBoolean('relayApi', { description: 'The API relay to lower nodes is on (cascade-server.relayapi.enable).' }),
    relayAllowsSetCookie: t.exposeBoolean('relayAllowsSetCookie', {
      description: "A lower node's Set-Cookie reaches relay callers (cascade-server.relayapi.allowsetcookie).",
    }),
  }),
});

export const NodeRef = builder.objectRef<NodeInfo>('Node').implement({
  description: 'This node.',
  fields: (t) => ({
    name: t.exposeString('name'),
    version: t.exposeString('version', { description: 'Program version.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    uptimeSeconds: t.float({ resolve: (n) => Math.round((Date.now() - n.startedAt.getTime()) / 100) / 10 }),
    roles: t.field({ type: [NodeRoleEnum], resolve: (n) => n.roles }),
    fingerprint: t.exposeString('fingerprint', {
      nullable: true,
      description: 'SHA-256 fingerprint ("sha256:HEX") of the cascade server certificate; null without the server role.',
    }),
    security: t.field({ type: NodeSecurityRef, resolve: (n) => n.security }),
  }),
});

builder.queryField('node', (t) => t.field({ type: NodeRef, resolve: (_r, _a, ctx) => ctx.services.node }));
