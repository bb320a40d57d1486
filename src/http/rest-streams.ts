/**
 * REST: GET /api/stream/list — this node's live streams, in the envelope.
 */
import type { StreamForwarding } from '../services/forwarding.service.js';
import type { StreamInfo } from '../services/stream.service.js';
import { sendOk } from './envelope.js';
import type { Route } from './router.js';

/** The JSON shape of a stream (snake_case, like the spec's other endpoints). */
function streamJson(s: StreamInfo, fwd?: StreamForwarding): Record<string, unknown> {
  return {
    path: s.path,
    video: s.video && { codec: s.video.codec, width: s.video.width, height: s.video.height, fps: s.video.fps },
    audio: s.audio && { codec: s.audio.codec, sample_rate: s.audio.sampleRate, channels: s.audio.channels },
    bitrate_kbps: s.bitrateKbps,
    publisher: { protocol: s.publisher.protocol, remote: s.publisher.remote },
    subscribers: s.subscribers,
    started_time: s.startedAt.toISOString(),
    ...(fwd
      ? {
          direction: fwd.direction,
          origin: fwd.peer,
          forwards: fwd.outbound.map((o) => ({ direction: o.direction, peer: o.peer, since: o.since.toISOString(), bytes: o.bytes })),
        }
      : {}),
  };
}

export const streamRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/api\/stream\/list$/,
    handler: async ({ res, services }) => {
      sendOk(res, services.streams.list().map((s) => streamJson(s, services.forwarding.forwardingOf(s.path))));
    },
  },
];
