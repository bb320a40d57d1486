/**
 * Codec facts from FLV tag bodies: the per-tag flags (keyframe, sequence
 * header) and the stream description from sequence headers (H.264 SPS →
 * width/height/profile, AAC AudioSpecificConfig → sample rate/channels).
 * Enhanced RTMP (FourCC hvc1/av01/avc1/vp09) is recognised. Pure: no I/O.
 */
import { CodecInfoError } from './errors.js';

/** Video codec description. */
export interface VideoCodecInfo {
  /** 'h264', 'hevc', 'av1', 'vp9', or 'unknown(N)'. */
  codec: string;
  width: number;
  height: number;
  /** H.264 profile name ('Baseline', 'Main', 'High', ...) when known. */
  profile?: string;
  /** H.264 level (e.g. 3.1) when known. */
  level?: number;
}

/** Audio codec description. */
export interface AudioCodecInfo {
  /** 'aac', 'mp3', 'opus', 'speex', 'pcm', ... */
  codec: string;
  sampleRate: number;
  channels: number;
  /** AAC profile ('LC', 'HE', ...) when known. */
  profile?: string;
}

const LEGACY_VIDEO_CODECS: Record<number, string> = { 2: 'h263', 3: 'screen', 4: 'vp6', 5: 'vp6a', 6: 'screen2', 7: 'h264', 12: 'hevc', 13: 'av1' };
const AUDIO_CODECS: Record<number, string> = { 0: 'pcm', 1: 'adpcm', 2: 'mp3', 3: 'pcm', 4: 'nellymoser', 5: 'nellymoser', 6: 'nellymoser', 7: 'g711a', 8: 'g711u', 10: 'aac', 11: 'speex', 13: 'opus', 14: 'mp3' };
const FOURCC: Record<string, string> = { avc1: 'h264', hvc1: 'hevc', av01: 'av1', vp09: 'vp9' };
const FLV_RATES = [5500, 11025, 22050, 44100] as const;
const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350] as const;
const AAC_PROFILES: Record<number, string> = { 1: 'Main', 2: 'LC', 3: 'SSR', 4: 'LTP', 5: 'HE', 29: 'HEv2' };
const H264_PROFILES: Record<number, string> = { 66: 'Baseline', 77: 'Main', 88: 'Extended', 100: 'High', 110: 'High 10', 122: 'High 4:2:2', 244: 'High 4:4:4' };

/** True for a video tag carrying a keyframe (frame type 1), legacy or enhanced. */
export function isVideoKeyframe(body: Uint8Array): boolean {
  const b0 = body[0];
  if (b0 === undefined) return false;
  return ((b0 >> 4) & 0x07) === 1;
}

/** True for a codec sequence header (AVC/HEVC config, AAC config, Enhanced-RTMP SequenceStart). */
export function isSequenceHeader(type: 'audio' | 'video' | 'script', body: Uint8Array): boolean {
  const b0 = body[0];
  if (b0 === undefined || type === 'script') return false;
  if (type === 'audio') return b0 >> 4 === 10 && body[1] === 0;
  if ((b0 & 0x80) !== 0) return (b0 & 0x0f) === 0; // Enhanced RTMP PacketTypeSequenceStart
  const codecId = b0 & 0x0f;
  return (codecId === 7 || codecId === 12 || codecId === 13) && body[1] === 0;
}

/** The video codec name of a tag body (legacy codec id or Enhanced-RTMP FourCC). */
export function videoCodecName(body: Uint8Array): string {
  const b0 = body[0];
  if (b0 === undefined) return 'unknown';
  if ((b0 & 0x80) !== 0) {
    if (body.length < 5) return 'unknown';
    const fourcc = String.fromCharCode(body[1] as number, body[2] as number, body[3] as number, body[4] as number);
    return FOURCC[fourcc] ?? fourcc;
  }
  return LEGACY_VIDEO_CODECS[b0 & 0x0f] ?? `unknown(${b0 & 0x0f})`;
}

/** Audio description from an audio tag body (sequence header for AAC details). */
export function parseAudioTag(body: Uint8Array): AudioCodecInfo {
  const b0 = body[0];
  if (b0 === undefined) throw new CodecInfoError('empty audio tag');
  const format = b0 >> 4;
  const info: AudioCodecInfo = {
    codec: AUDIO_CODECS[format] ?? `unknown(${format})`,
    sampleRate: FLV_RATES[(b0 >> 2) & 3] as number,
    channels: (b0 & 1) + 1,
  };
  if (format === 10 && body[1] === 0) Object.assign(info, parseAudioSpecificConfig(body.subarray(2)));
  return info;
}

/** AAC AudioSpecificConfig → sample rate, channels, profile. */
export function parseAudioSpecificConfig(asc: Uint8Array): { sampleRate: number; channels: number; profile?: string } {
  const r = new BitReader(asc);
  let objectType = r.bits(5);
  if (objectType === 31) objectType = 32 + r.bits(6);
  const freqIndex = r.bits(4);
  let sampleRate: number;
  if (freqIndex === 15) sampleRate = r.bits(24);
  else {
    const rate = AAC_RATES[freqIndex];
    if (rate === undefined) throw new CodecInfoError(`bad AAC sampling frequency index ${freqIndex}`);
    sampleRate = rate;
  }
  const channelConfig = r.bits(4);
  const channels = channelConfig === 7 ? 8 : channelConfig;
  const profile = AAC_PROFILES[objectType];
  return profile === undefined ? { sampleRate, channels } : { sampleRate, channels, profile };
}

/**
 * Video description from a sequence-header tag body. H.264 (legacy or avc1)
 * is parsed down to the SPS; other codecs report the codec with 0×0 (the
 * caller falls back to onMetaData width/height).
 */
export function parseVideoSequenceHeader(body: Uint8Array): VideoCodecInfo {
  const b0 = body[0];
  if (b0 === undefined) throw new CodecInfoError('empty video tag');
  const codec = videoCodecName(body);
  // Legacy: codec byte, AVCPacketType, 3-byte composition time. Enhanced: header byte, FourCC.
  const record = body.subarray(5);
  if (codec !== 'h264') return { codec, width: 0, height: 0 };
  return { codec, ...parseAvcDecoderConfigurationRecord(record) };
}

/** AVCDecoderConfigurationRecord → first SPS → width/height/profile/level. */
export function parseAvcDecoderConfigurationRecord(rec: Uint8Array): {
  width: number;
  height: number;
  profile?: string;
  level?: number;
} {
  if (rec.length < 8) throw new CodecInfoError('AVCDecoderConfigurationRecord too short');
  if (rec[0] !== 1) throw new CodecInfoError(`AVCDecoderConfigurationRecord version ${rec[0]}`);
  const numSps = (rec[5] as number) & 0x1f;
  if (numSps < 1) throw new CodecInfoError('AVCDecoderConfigurationRecord without SPS');
  const spsLen = ((rec[6] as number) << 8) | (rec[7] as number);
  if (spsLen < 4 || 8 + spsLen > rec.length) throw new CodecInfoError('SPS length out of range');
  return parseH264Sps(rec.subarray(8, 8 + spsLen));
}

/** H.264 SPS NAL unit (with its NAL header byte) → width/height/profile/level. */
function parseH264Sps(nal: Uint8Array): { width: number; height: number; profile?: string; level?: number } {
  const rbsp = unescapeRbsp(nal.subarray(1));
  const r = new BitReader(rbsp);
  const profileIdc = r.bits(8);
  r.bits(8); // constraint flags
  const levelIdc = r.bits(8);
  r.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  let separateColourPlane = 0;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw new CodecInfoError('bad chroma_format_idc');
    if (chromaFormatIdc === 3) separateColourPlane = r.bits(1);
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.bits(1); // qpprime_y_zero_transform_bypass_flag
    if (r.bits(1)) {
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) {
        if (r.bits(1)) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.bits(1);
    r.se();
    r.se();
    const n = r.ue();
    if (n > 255) throw new CodecInfoError('num_ref_frames_in_pic_order_cnt_cycle out of range');
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.bits(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bits(1);
  if (!frameMbsOnly) r.bits(1);
  r.bits(1); // direct_8x8_inference_flag
  let cropL = 0;
  let cropR = 0;
  let cropT = 0;
  let cropB = 0;
  if (r.bits(1)) {
    cropL = r.ue();
    cropR = r.ue();
    cropT = r.ue();
    cropB = r.ue();
  }
  const chromaArray = separateColourPlane ? 0 : chromaFormatIdc;
  const subW = chromaArray === 1 || chromaArray === 2 ? 2 : 1;
  const subH = chromaArray === 1 ? 2 : 1;
  const cropUnitX = chromaArray === 0 ? 1 : subW;
  const cropUnitY = (chromaArray === 0 ? 1 : subH) * (2 - frameMbsOnly);
  const width = widthMbs * 16 - (cropL + cropR) * cropUnitX;
  const height = (2 - frameMbsOnly) * heightMapUnits * 16 - (cropT + cropB) * cropUnitY;
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) throw new CodecInfoError('SPS size out of range');
  const profile = H264_PROFILES[profileIdc];
  const info: { width: number; height: number; profile?: string; level?: number } = { width, height, level: levelIdc / 10 };
  if (profile !== undefined) info.profile = profile;
  return info;
}

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      next = (last + r.se() + 256) % 256;
    }
    last = next === 0 ? last : next;
  }
}

function unescapeRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let o = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i] as number;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[o++] = b;
  }
  return out.subarray(0, o);
}

/** MSB-first bit reader with Exp-Golomb; throws {@link CodecInfoError} past the end. */
class BitReader {
  private bit = 0;
  constructor(private readonly buf: Uint8Array) {}
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.buf[this.bit >> 3];
      if (byte === undefined) throw new CodecInfoError('codec configuration truncated', 'CODEC_CONFIG_TRUNCATED');
      v = v * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bits(1) === 0) {
      if (++zeros > 31) throw new CodecInfoError('Exp-Golomb code too long');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}
