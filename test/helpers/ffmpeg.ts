/**
 * ffmpeg / ffprobe drivers for media tests: a generated test stream published
 * over RTMP, and probes of what a node plays back.
 */
import type { ChildProcess } from 'node:child_process';
import { exitOf, spawnTracked, stopProcess } from './processes.js';

export interface Publisher {
  child: ChildProcess;
  stderr(): string;
  /** Kill it and wait for exit. */
  stop(): Promise<void>;
  exited: Promise<number | null>;
}

/** Publishes testsrc + sine as H.264/AAC FLV to `url` (real time) for `seconds`; several URLs get the same encoding (tee). */
export function publishTestStream(url: string | readonly string[], seconds = 30, opts: { size?: string; gop?: number; extraOutputArgs?: string[] } = {}): Publisher {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc=size=${opts.size ?? '320x240'}:rate=25`,
    '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(opts.gop ?? 50), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k',
    '-t', String(seconds), ...(opts.extraOutputArgs ?? []),
    ...(typeof url === 'string' ? ['-f', 'flv', url] : ['-map', '0:v', '-map', '1:a', '-f', 'tee', url.map((u) => `[f=flv:onfail=ignore]${u}`).join('|')]),
  ];
  const child = spawnTracked('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = exitOf(child);
  return {
    child,
    stderr: () => err,
    exited,
    async stop() {
      await stopProcess(child, 'SIGKILL');
    },
  };
}

export interface ProbeResult {
  videoCodec: string | null;
  audioCodec: string | null;
  width: number | null;
  videoFrames: number;
  audioFrames: number;
  firstVideoKey: boolean;
}

/** Reads `seconds` of `url` with ffprobe: codecs, decoded frame count, whether the first video frame is a keyframe. */
export function probe(url: string, seconds = 3, timeoutMs = 30_000): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const args = [
      '-hide_banner', '-v', 'error', '-rw_timeout', '10000000',
      '-read_intervals', `%+${seconds}`,
      '-show_entries', 'stream=codec_type,codec_name,width:frame=media_type,key_frame,pict_type',
      '-of', 'json', url,
    ];
    const child = spawnTracked('ffprobe', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => void stopProcess(child, 'SIGKILL'), timeoutMs);
    // 'close': all of stdout has arrived.
    child.on('close', (code) => {
      clearTimeout(t);
      try {
        const j = JSON.parse(out) as {
          streams?: { codec_type: string; codec_name: string; width?: number }[];
          frames?: { media_type: string; key_frame: number; pict_type?: string }[];
        };
        if (code !== 0 && !j.streams?.length) throw new Error('no streams');
        const v = j.streams?.find((s) => s.codec_type === 'video');
        const a = j.streams?.find((s) => s.codec_type === 'audio');
        const vf = (j.frames ?? []).filter((f) => f.media_type === 'video');
        resolve({
          videoCodec: v?.codec_name ?? null,
          audioCodec: a?.codec_name ?? null,
          width: v?.width ?? null,
          videoFrames: vf.length,
          audioFrames: (j.frames ?? []).filter((f) => f.media_type === 'audio').length,
          firstVideoKey: vf[0]?.key_frame === 1,
        });
      } catch {
        reject(new Error(`ffprobe ${url} failed (exit ${code}): ${err.slice(0, 500)}`));
      }
    });
  });
}
