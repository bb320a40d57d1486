import type { TopologyNode } from '../src/services/forwarding.service.js';
import { builder } from './builder.js';

const TopologyNodeRef = builder.objectRef<TopologyNode>('TopologyNode');
TopologyNodeRef.implement({
  description: 'A node of the cascade tree below (and including) this node.',
  fields: (t) => ({
    name: t.exposeString('name'),
    self: t.exposeBoolean('self', { description: 'True for this node.' }),
    online: t.exposeBoolean('online'),
    rttMs: t.exposeFloat('rttMs', { nullable: true, description: 'RTT of its link to its parent (this node: to its upper node), ms.' }),
    version: t.exposeString('version', {
      nullable: true,
      description: 'Program version: of this node, or of a direct lower node from its last hello; null deeper down.',
    }),
    streams: t.exposeStringList('streams', { description: 'Streams live on that node (announced by it, or local for this node).' }),
    children: t.field({ type: [TopologyNodeRef], resolve: (n) => n.children }),
  }),
});

builder.queryField('topology', (t) =>
  t.field({
    type: TopologyNodeRef,
    description: 'This node and the tree below it, with the streams each node has (from ANNOUNCE).',
    resolve: (_r, _a, ctx) => ctx.services.forwarding.topology(),
  }),
);

builder.subscriptionField('topologyChanged', (t) =>
  t.field({
    type: TopologyNodeRef,
    description: 'The whole tree again whenever a node goes online/offline or a stream is announced or ends.',
    subscribe: (_r, _a, ctx) => ctx.services.feed.subscribe('topologyChanged'),
    resolve: (n) => n,
  }),
);
