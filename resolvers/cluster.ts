import type { ReplicaInfo } from '../src/services/cluster-view.js';
import { builder } from './builder.js';

const ReplicaRef = builder.objectRef<ReplicaInfo>('Replica').implement({
  description: 'A live replica of this clustered upper node.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'cluster.replica of that process.' }),
    http: t.exposeString('http', { nullable: true, description: 'Its HTTP base URL, as it advertises it.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    self: t.exposeBoolean('self', { description: 'True for the replica answering.' }),
  }),
});

interface ClusterInfo {
  replica: string;
  replicas: ReplicaInfo[];
}

const ClusterRef = builder.objectRef<ClusterInfo>('Cluster').implement({
  description: 'The replicas that together are this upper node (cluster: in the config).',
  fields: (t) => ({
    replica: t.exposeString('replica', { description: 'The replica answering.' }),
    replicas: t.field({ type: [ReplicaRef], description: 'Live replicas (lease in Redis), this one included.', resolve: (c) => c.replicas }),
  }),
});

builder.queryField('cluster', (t) =>
  t.field({
    type: ClusterRef,
    nullable: true,
    description: 'The cluster of replicas this node belongs to; null on a single node.',
    resolve: (_r, _a, ctx) => {
      const c = ctx.services.cluster;
      return c ? { replica: c.replica, replicas: c.replicas() } : null;
    },
  }),
);
