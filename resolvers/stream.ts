import type { AudioStreamInfo, ReplicaStreamInfo, VideoStreamInfo } from '../src/services/models.js';
import type { StreamEvent, StreamEventKind } from '../src/services/events.js';
import { builder } from './builder.js';

const VideoRef = builder.objectRef<VideoStreamInfo>('VideoTrack').implement({
  fields: (t) => ({
    codec: t.exposeString('codec'),
    width: t.exposeInt('width'),
    height: t.exposeInt('height'),
    fps: t.exposeFloat('fps'),
  }),
});

const AudioRef = builder.objectRef<AudioStreamInfo>('AudioTrack').implement({
  fields: (t) => ({
    codec: t.exposeString('codec'),
    sampleRate: t.exposeInt('sampleRate'),
    channels: t.exposeInt('channels'),
  }),
});

const PublisherRef = builder.objectRef<ReplicaStreamInfo['publisher']>('StreamPublisher').implement({
  fields: (t) => ({
    protocol: t.exposeString('protocol', { description: '"rtmp", "cascade", ...' }),
    remote: t.exposeString('remote', { description: 'Remote address, or the node it came from.' }),
  }),
});

export const StreamRef = builder.objectRef<ReplicaStreamInfo>('Stream').implement({
  description: 'A live stream on this node.',
  fields: (t) => ({
    path: t.exposeString('path', { description: '"app/name", e.g. "live/camera1".' }),
    video: t.field({ type: VideoRef, nullable: true, resolve: (s) => s.video }),
    audio: t.field({ type: AudioRef, nullable: true, resolve: (s) => s.audio }),
    bitrateKbps: t.exposeFloat('bitrateKbps'),
    publisher: t.field({ type: PublisherRef, resolve: (s) => s.publisher }),
    subscribers: t.exposeInt('subscribers'),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    replica: t.string({
      nullable: true,
      description: 'On a cluster of replicas: the replica that has it (null on a single node).',
      resolve: (s, _a, ctx) => s.replica ?? ctx.services.cluster?.replica ?? null,
    }),
  }),
});

const StreamEventKindEnum = builder.enumType('StreamEventKind', {
  values: ['PUBLISHED', 'UPDATED', 'UNPUBLISHED', 'SUBSCRIBERS'] as const satisfies readonly StreamEventKind[],
});

const StreamEventRef = builder.objectRef<StreamEvent>('StreamEvent').implement({
  fields: (t) => ({
    kind: t.field({ type: StreamEventKindEnum, resolve: (e) => e.kind }),
    path: t.exposeString('path'),
    stream: t.field({ type: StreamRef, nullable: true, resolve: (e) => e.stream }),
    replica: t.string({
      nullable: true,
      description: 'On a cluster of replicas: the replica the stream is on (null on a single node).',
      resolve: (e, _a, ctx) => e.replica ?? ctx.services.cluster?.replica ?? null,
    }),
  }),
});

builder.queryFields((t) => ({
  streams: t.field({
    type: [StreamRef],
    description: 'Live streams; on a cluster replica those of every replica (a stream on two replicas is listed once for each).',
    resolve: (_r, _a, ctx) => ctx.services.cluster?.streams() ?? ctx.services.streams.list(),
  }),
  stream: t.field({
    type: StreamRef,
    nullable: true,
    args: { path: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.streams.get(args.path),
  }),
}));

builder.subscriptionField('streamChanged', (t) =>
  t.field({
    type: StreamEventRef,
    description: 'Streams published, updated, unpublished; subscriber counts (throttled).',
    subscribe: (_r, _a, ctx) => ctx.services.feed.subscribe('streamChanged'),
    resolve: (e) => e,
  }),
);
