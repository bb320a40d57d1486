/**
 * Plays a stream of this node in the page: mpegts.js over WS-FLV from this node (a
 * stream of a lower node is pulled here through the cascade on demand). mpegts.js is
 * loaded on the first Play only.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export function flvUrl(path: string, scheme: 'ws' | 'http'): string {
  const secure = location.protocol === 'https:';
  const proto = scheme === 'ws' ? (secure ? 'wss' : 'ws') : secure ? 'https' : 'http';
  return `${proto}://${location.host}/${path.split('/').map(encodeURIComponent).join('/')}.flv`;
}

export function Player({ path, onClose }: { path: string; onClose: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [state, setState] = useState('loading player…');

  useEffect(() => {
    let gone = false;
    let destroy: (() => void) | null = null;
    setProblem(null);
    import('mpegts.js').then(
      ({ default: mpegts }) => {
        const el = video.current;
        if (gone || !el) return;
        mpegts.LoggingControl.enableVerbose = false;
        mpegts.LoggingControl.enableDebug = false;
        mpegts.LoggingControl.enableInfo = false;
        if (!mpegts.getFeatureList().mseLivePlayback) {
          setProblem('This browser cannot play live FLV here (no Media Source Extensions).');
          return;
        }
        const player = mpegts.createPlayer(
          { type: 'flv', isLive: true, hasAudio: true, hasVideo: true, url: flvUrl(path, 'ws') },
          { enableWorker: false, lazyLoad: false, liveBufferLatencyChasing: true },
        );
        player.on(mpegts.Events.ERROR, (type: string, detail: string, info?: { msg?: string }) => {
          setProblem(`${type}: ${detail}${info?.msg ? ` — ${info.msg}` : ''}`);
        });
        player.attachMediaElement(el);
        player.load();
        setState('connecting…');
        const played = player.play();
        if (played) played.catch(() => setState('press play to start'));
        destroy = () => {
          player.pause();
          player.unload();
          player.detachMediaElement();
          player.destroy();
        };
      },
      () => setProblem('The player could not be loaded.'),
    );
    return () => {
      gone = true;
      destroy?.();
    };
  }, [path]);

  return (
    <section class="player" aria-label={`Player: ${path}`}>
      <div class="player-head">
        <h3>
          Playing <code>{path}</code>
        </h3>
        <button type="button" onClick={onClose}>
          Close player
        </button>
      </div>
      <video
        ref={video}
        data-player={path}
        controls
        muted
        playsInline
        onPlaying={() => setState('playing (muted: unmute with the controls)')}
        onWaiting={() => setState('buffering…')}
      />
      <p class="hint">
        {problem ? <span class="error">{problem}</span> : state} · WS-FLV <code>{flvUrl(path, 'ws')}</code> · HTTP-FLV{' '}
        <code>{flvUrl(path, 'http')}</code>
      </p>
    </section>
  );
}
