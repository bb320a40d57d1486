/**
 * Media node public API: the stream hub (the seam the cascade uses), the
 * RTMP server, HTTP-FLV / WS-FLV handlers, and the pure codecs.
 */
export * from './errors.js';
export { decodeAmf0, decodeAmf0Value, encodeAmf0, amf0Props, Amf0EcmaArray } from './amf0.js';
export type { Amf0Value, Amf0Object } from './amf0.js';
export { FlvDemuxer, FlvTagType, encodeFlvHeader, encodeFlvTag } from './flv.js';
export type { FlvTag, FlvHeaderInfo } from './flv.js';
export {
  parseAudioSpecificConfig,
  parseAvcDecoderConfigurationRecord,
  parseAudioTag,
  parseVideoSequenceHeader,
  isSequenceHeader,
  isVideoKeyframe,
  videoCodecName,
} from './codec-info.js';
export type { AudioCodecInfo, VideoCodecInfo } from './codec-info.js';
export { createMediaTag, flvTypeId, mediaTagType, timestampDiff, TimestampRebaser } from './media-tag.js';
export type { MediaTag, MediaTagType } from './media-tag.js';
export { StreamHub } from './stream-hub.js';
export { isValidStreamPath, isValidPullUrl, CASCADE_URL_SCHEME } from './stream-path.js';
export type { StreamHubEvents, StreamHubOptions, MissingStreamHandler, StreamOrigin } from './stream-hub.js';
export { Publisher } from './live-stream.js';
export type { PublisherInfo, StreamInfo, VideoStreamInfo, AudioStreamInfo, GopCacheOptions, PublisherEvents, StreamTraffic, SubscriberSnapshot } from './live-stream.js';
export { Subscriber } from './stream-subscriber.js';
export type { SubscriberInfo, SubscriberOptions, SubscriberEvents, SubscriberStats } from './stream-subscriber.js';
export { pumpSubscriber } from './subscriber-pump.js';
export type { TagSink } from './subscriber-pump.js';
export { startRtmpServer } from './rtmp-server.js';
export type { RtmpServer, RtmpServerOptions } from './rtmp-server.js';
export type { RtmpSessionOptions } from './rtmp-session.js';
export { redactedQuery } from './publish-gate.js';
export type { PublishGate, PublishRequest, PublishVerdict } from './publish-gate.js';
export { createFlvHandler, flvPathOf, buildOnMetaData } from './http-flv.js';
export type { FlvHandler, FlvHandlerOptions } from './http-flv.js';
export { RtmpChunkDecoder } from './rtmp-chunk-decoder.js';
export type { RtmpChunkDecoderOptions } from './rtmp-chunk-decoder.js';
export { RtmpChunkEncoder } from './rtmp-chunk-encoder.js';
export { RtmpServerHandshake, createServerHandshake, RTMP_HANDSHAKE_SIZE } from './rtmp-handshake.js';
export { RtmpMessageType, UserControlEvent } from './rtmp-message.js';
export type { RtmpMessage } from './rtmp-message.js';
