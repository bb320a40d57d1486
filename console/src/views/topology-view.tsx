/** The tree below this node, live from `topologyChanged`. */
import type { ConsoleTopologyTreeFragment } from '../generated/graphql';
import { ConsoleTopologyChangedDocument, ConsoleTopologyDocument } from '../generated/graphql';
import { ms } from '../format';
import { ErrorLine } from './parts';
import { useLiveQuery } from '../use-live-query';

type TreeNode = Pick<ConsoleTopologyTreeFragment, 'name' | 'self' | 'online' | 'rttMs' | 'version' | 'streams'> & {
  children?: TreeNode[];
};

function NodeRow({ node, onOpen }: { node: TreeNode; onOpen: (name: string) => void }) {
  const state = node.online ? 'online' : 'offline';
  return (
    <li>
      <div class={`node-row ${state}`} data-node={node.name} data-online={String(node.online)}>
        <span class={`dot ${state}`} aria-hidden="true" />
        <span class="node-name">
          {node.name}
          {node.self ? <span class="tag">this node</span> : null}
        </span>
        <span class="state" data-field="state">
          {state}
        </span>
        <span class="fact" title="Round-trip time of its link up">
          <span class="label">RTT</span> {ms(node.rttMs)}
        </span>
        <span class="fact">
          <span class="label">version</span> {node.version ?? '—'}
        </span>
        <button type="button" class="link" onClick={() => onOpen(node.name)} aria-label={`Streams of ${node.name}`}>
          {node.streams.length} {node.streams.length === 1 ? 'stream' : 'streams'}
        </button>
      </div>
      {node.children?.length ? (
        <ul aria-label={`Lower nodes of ${node.name}`}>
          {node.children.map((c) => (
            <NodeRow key={c.name} node={c} onOpen={onOpen} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

export function TopologyView({ onOpenNode }: { onOpenNode: (name: string) => void }) {
  const q = useLiveQuery(ConsoleTopologyDocument, {
    events: ConsoleTopologyChangedDocument,
    fromEvent: (e) => ({ topology: e.topologyChanged }),
  });
  const count = (n: TreeNode): [number, number] =>
    (n.children ?? []).reduce<[number, number]>(
      ([all, on], c) => {
        const [a, o] = count(c);
        return [all + a, on + o];
      },
      [1, n.online ? 1 : 0],
    );
  const [all, online] = q.data ? count(q.data.topology) : [0, 0];
  return (
    <section aria-labelledby="topology-title">
      <h2 id="topology-title">Topology</h2>
      <p class="hint">
        This node and the tree below it, updated live. {q.data ? `${online} of ${all} nodes online.` : 'Loading…'} Nodes deeper than
        the direct lower nodes show up with the streams they announce.
      </p>
      <ErrorLine error={q.error} />
      {q.data ? (
        <ul class="tree" aria-label="Cascade tree">
          <NodeRow node={q.data.topology} onOpen={onOpenNode} />
        </ul>
      ) : null}
    </section>
  );
}

/** Every node name of the tree, this node first. */
export function nodeNames(t: TreeNode): string[] {
  return [t.name, ...(t.children ?? []).flatMap(nodeNames)];
}

/** The node called `name` in the tree, or null. */
export function findNode(t: TreeNode, name: string): TreeNode | null {
  if (t.name === name) return t;
  for (const c of t.children ?? []) {
    const f = findNode(c, name);
    if (f) return f;
  }
  return null;
}
