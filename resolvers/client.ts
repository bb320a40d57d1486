import type { ClientRecord } from '../src/services/client.service.js';
import type { ClientEvent, ClientEventKind } from '../src/services/events.js';
import { builder } from './builder.js';

export const ClientRef = builder.objectRef<ClientRecord>('CascadeClient').implement({
  description: 'A lower node known to this node. Its secret is never shown.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    name: t.exposeString('name'),
    ip: t.exposeString('ip', { nullable: true, description: 'Last remote address; null until its first connect.' }),
    online: t.exposeBoolean('online'),
    autoregistered: t.exposeBoolean('autoregistered'),
    hasSecret: t.exposeBoolean('hasSecret', {
      description: 'False for a record auto-registered by an earlier version without a secret: no link is bound to it until a secret is set.',
    }),
    version: t.exposeString('version', { nullable: true, description: 'Program version from its last hello.' }),
    connectedSince: t.expose('connectedSince', { type: 'DateTime', nullable: true }),
    lastSeen: t.expose('lastSeen', { type: 'DateTime', nullable: true }),
    createdTime: t.expose('createdTime', { type: 'DateTime' }),
    updatedTime: t.expose('updatedTime', { type: 'DateTime' }),
    replica: t.string({
      nullable: true,
      description: 'On a cluster of replicas: the replica holding its link (null when offline, or on a single node).',
      resolve: (c, _a, ctx) => (ctx.services.cluster && c.online ? ctx.services.cluster.holderOf(c.id) : null),
    }),
  }),
});

const ClientEventKindEnum = builder.enumType('ClientEventKind', {
  values: ['CREATED', 'UPDATED', 'DELETED', 'ONLINE', 'OFFLINE'] as const satisfies readonly ClientEventKind[],
});

const ClientEventRef = builder.objectRef<ClientEvent>('ClientEvent').implement({
  fields: (t) => ({
    kind: t.field({ type: ClientEventKindEnum, resolve: (e) => e.kind }),
    client: t.field({ type: ClientRef, resolve: (e) => e.client }),
  }),
});

builder.queryFields((t) => ({
  clients: t.field({
    type: [ClientRef],
    description: 'Lower nodes, optionally only those online (true) or offline (false).',
    args: { online: t.arg.boolean({ required: false }) },
    resolve: (_r, args, ctx) => ctx.services.clients.list({ online: args.online }),
  }),
  client: t.field({
    type: ClientRef,
    nullable: true,
    args: { id: t.arg.int({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.clients.find(args.id),
  }),
}));

builder.mutationFields((t) => ({
  createClient: t.field({
    type: ClientRef,
    description: 'A lower node record. The secret is 12-256 characters and may equal another record\'s (the answer never tells).',
    args: { name: t.arg.string({ required: true }), secret: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.clients.create({ name: args.name, secret: args.secret }),
  }),
  updateClient: t.field({
    type: ClientRef,
    args: {
      id: t.arg.int({ required: true }),
      name: t.arg.string({ required: false }),
      secret: t.arg.string({ required: false }),
    },
    resolve: (_r, args, ctx) =>
      ctx.services.clients.update(args.id, {
        ...(args.name == null ? {} : { name: args.name }),
        ...(args.secret == null ? {} : { secret: args.secret }),
      }),
  }),
  deleteClient: t.field({
    type: ClientRef,
    description: 'Deletes the record (and closes its live link); returns it as it was.',
    args: { id: t.arg.int({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.clients.delete(args.id),
  }),
}));

builder.subscriptionField('clientChanged', (t) =>
  t.field({
    type: ClientEventRef,
    description: 'Every change to a client record or its online state.',
    subscribe: (_r, _a, ctx) => ctx.services.feed.subscribe('clientChanged'),
    resolve: (e) => e,
  }),
);
