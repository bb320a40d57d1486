/**
 * The streams of a node of the tree. This node's streams come with all their facts; a
 * lower node's streams are those it announced, with the facts this node has when the
 * stream is here too. Play plays it through this node.
 */
import { useState } from 'preact/hooks';
import type { ConsoleStreamFieldsFragment } from '../generated/graphql';
import { ConsoleStreamChangedDocument, ConsoleStreamsDocument, ConsoleTopologyChangedDocument, ConsoleTopologyDocument } from '../generated/graphql';
import { direction, kbps, since } from '../format';
import { useLiveQuery } from '../use-live-query';
import { ErrorLine, Table } from './parts';
import { Player } from './player';
import { findNode, nodeNames } from './topology-view';

function StreamRow({ path, s, onPlay }: { path: string; s: ConsoleStreamFieldsFragment | null; onPlay: (p: string) => void }) {
  return (
    <tr data-stream={path}>
      <td data-label="Path">
        <code>{path}</code>
      </td>
      <td data-label="Video">{s?.video ? `${s.video.codec} ${s.video.width}×${s.video.height} ${s.video.fps ? `${Math.round(s.video.fps)} fps` : ''}` : '—'}</td>
      <td data-label="Audio">{s?.audio ? `${s.audio.codec} ${s.audio.sampleRate / 1000} kHz ${s.audio.channels === 1 ? 'mono' : 'stereo'}` : '—'}</td>
      <td data-label="Bitrate">{s ? kbps(s.bitrateKbps) : '—'}</td>
      <td data-label="Players">{s ? s.subscribers : '—'}</td>
      <td data-label="Direction">{s ? s.directions.map(direction).join(', ') : 'at that node'}</td>
      <td data-label="Origin and chain">
        {s ? (
          <>
            {s.origin ?? 'published here'} {s.chain.length ? <span class="chain">({[...s.chain, 'here'].join(' → ')})</span> : null}
            <span class="sub">
              {s.publisher.protocol} from {s.publisher.remote}, {since(s.startedAt)}
            </span>
          </>
        ) : (
          'pulled here on Play'
        )}
      </td>
      <td data-label="">
        <button type="button" onClick={() => onPlay(path)} aria-label={`Play ${path}`}>
          ▶ Play
        </button>
      </td>
    </tr>
  );
}

export function StreamsView({ node, onSelectNode }: { node: string | null; onSelectNode: (name: string) => void }) {
  const topo = useLiveQuery(ConsoleTopologyDocument, {
    events: ConsoleTopologyChangedDocument,
    fromEvent: (e) => ({ topology: e.topologyChanged }),
  });
  const streams = useLiveQuery(ConsoleStreamsDocument, { events: ConsoleStreamChangedDocument, pollMs: 5_000 });
  const [playing, setPlaying] = useState<string | null>(null);

  const tree = topo.data?.topology ?? null;
  const selected = tree ? (node && findNode(tree, node) ? node : tree.name) : null;
  const target = tree && selected ? findNode(tree, selected) : null;
  const here = new Map((streams.data?.streams ?? []).map((s) => [s.path, s]));
  const paths = target ? (target.self ? [...here.keys()] : target.streams) : [];

  return (
    <section aria-labelledby="streams-title">
      <h2 id="streams-title">Streams</h2>
      <ErrorLine error={topo.error ?? streams.error} />
      {tree ? (
        <label class="inline">
          Node{' '}
          <select value={selected ?? ''} onChange={(e) => onSelectNode((e.target as HTMLSelectElement).value)}>
            {nodeNames(tree).map((n) => (
              <option key={n} value={n}>
                {n}
                {n === tree.name ? ' (this node)' : ''}
              </option>
            ))}
          </select>
        </label>
      ) : (
        <p class="hint">Loading…</p>
      )}
      {target && !target.online ? <p class="warn">{target.name} is offline.</p> : null}
      {playing ? <Player path={playing} onClose={() => setPlaying(null)} /> : null}
      {target ? (
        paths.length ? (
          <Table caption={`Streams of ${target.name}`} headers={['Path', 'Video', 'Audio', 'Bitrate', 'Players', 'Direction', 'Origin and chain', null]}>
            {paths.map((p) => (
              <StreamRow key={p} path={p} s={here.get(p) ?? null} onPlay={setPlaying} />
            ))}
          </Table>
        ) : (
          <p class="hint">No streams on {target.name}.</p>
        )
      ) : null}
    </section>
  );
}
