import type { PullRuleRecord, StreamDirection, StreamForwarding } from '../src/services/forwarding.service.js';
import { builder } from './builder.js';
import { StreamRef } from './stream.js';

const StreamDirectionEnum = builder.enumType('StreamDirection', {
  description: 'How a stream reached this node (LOCAL, PUSHED_IN, PULLED_IN) or leaves it (PUSHED_OUT, PULLED_OUT).',
  values: ['LOCAL', 'PUSHED_IN', 'PULLED_IN', 'PUSHED_OUT', 'PULLED_OUT'] as const satisfies readonly StreamDirection[],
});

const StreamForwardRef = builder.objectRef<StreamForwarding['outbound'][number]>('StreamForward').implement({
  description: 'One forwarding of a stream of this node to another node.',
  fields: (t) => ({
    direction: t.field({ type: StreamDirectionEnum, resolve: (f) => f.direction }),
    peer: t.exposeString('peer', { description: 'The node it is sent to.' }),
    since: t.expose('since', { type: 'DateTime' }),
    bytes: t.float({ description: 'Bytes of media sent so far.', resolve: (f) => f.bytes }),
  }),
});

builder.objectFields(StreamRef, (t) => ({
  direction: t.field({
    type: StreamDirectionEnum,
    description: 'Where the stream comes from: LOCAL (published here), PUSHED_IN or PULLED_IN (over the cascade).',
    resolve: (s, _a, ctx) => ctx.services.forwarding.forwardingOf(s.path).direction,
  }),
  directions: t.field({
    type: [StreamDirectionEnum],
    description: 'The origin direction, then PUSHED_OUT and/or PULLED_OUT while it is forwarded to other nodes.',
    resolve: (s, _a, ctx) => ctx.services.forwarding.directionsOf(s.path),
  }),
  origin: t.string({
    nullable: true,
    description: 'The node it came from (PUSHED_IN / PULLED_IN).',
    resolve: (s, _a, ctx) => ctx.services.forwarding.forwardingOf(s.path).peer,
  }),
  chain: t.stringList({
    description: 'The nodes it passed through before this one, origin first.',
    resolve: (s, _a, ctx) => ctx.services.forwarding.forwardingOf(s.path).chain,
  }),
  onDemand: t.boolean({
    description: 'Pulled on demand: closed after the idle grace period once nobody plays it.',
    resolve: (s, _a, ctx) => ctx.services.forwarding.forwardingOf(s.path).onDemand,
  }),
  forwards: t.field({
    type: [StreamForwardRef],
    description: 'Where it is being sent (pushed to the upper node, pulled by other nodes).',
    resolve: (s, _a, ctx) => ctx.services.forwarding.forwardingOf(s.path).outbound,
  }),
}));

const PullRuleSourceEnum = builder.enumType('PullRuleSource', {
  values: ['CONFIG', 'API'] as const,
});

const PullRuleRef = builder.objectRef<PullRuleRecord>('PullRule').implement({
  description: 'Keep `streamPath` pulled from the upper node while the link is up.',
  fields: (t) => ({
    streamPath: t.exposeString('streamPath', { description: 'The local path, e.g. "live/camera1".' }),
    pullUrl: t.exposeString('pullUrl', { description: 'The stream at the upper node, e.g. "cascade://live/camera1".' }),
    source: t.field({ type: PullRuleSourceEnum, description: 'CONFIG: from the YAML file; API: added at runtime (persisted).', resolve: (r) => r.source }),
    createdTime: t.expose('createdTime', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryField('pullRules', (t) =>
  t.field({ type: [PullRuleRef], description: 'Pull rules in force (file and runtime).', resolve: (_r, _a, ctx) => ctx.services.forwarding.listPullRules() }),
);

builder.mutationFields((t) => ({
  addPullRule: t.field({
    type: PullRuleRef,
    description: 'Add a pull rule (persisted; survives restarts). Needs the cascade-client role.',
    args: { streamPath: t.arg.string({ required: true }), pullUrl: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.forwarding.pullRules.add(args.streamPath, args.pullUrl),
  }),
  removePullRule: t.field({
    type: PullRuleRef,
    description: 'Remove a runtime pull rule (its pull stops at once); returns it. Rules of the YAML file cannot be removed.',
    args: { streamPath: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.forwarding.pullRules.remove(args.streamPath),
  }),
}));
