import type { NodeInfo, NodeRole } from '../src/services/index.js';
import { builder } from './builder.js';

const NodeRoleEnum = builder.enumType('NodeRole', {
  values: ['CASCADE_SERVER', 'CASCADE_CLIENT', 'MEDIA'] as const satisfies readonly NodeRole[],
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
  }),
});

builder.queryField('node', (t) => t.field({ type: NodeRef, resolve: (_r, _a, ctx) => ctx.services.node }));
