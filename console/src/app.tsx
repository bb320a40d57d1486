/**
 * The console's frame: this node's name and version, the subscription socket's state,
 * the views (hash routes, so a reload keeps the view), and the admin token prompt when
 * the node has `http.token`.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, onSocketState, request, storedToken, storeToken, type SocketState } from './api';
import type { ConsoleNodeQuery } from './generated/graphql';
import { ConsoleNodeDocument } from './generated/graphql';
import { ClientsView } from './views/clients-view';
import { ErrorLine } from './views/parts';
import { PullRulesView } from './views/pull-rules-view';
import { StreamsView } from './views/streams-view';
import { TopologyView } from './views/topology-view';

const VIEWS = [
  { id: 'topology', title: 'Topology' },
  { id: 'streams', title: 'Streams' },
  { id: 'clients', title: 'Clients' },
  { id: 'pull-rules', title: 'Pull rules' },
] as const;
type ViewId = (typeof VIEWS)[number]['id'];

interface Route {
  view: ViewId;
  node: string | null;
}

function readRoute(): Route {
  const [view, node] = location.hash.replace(/^#\/?/, '').split('/', 2);
  const known = VIEWS.find((v) => v.id === view);
  return { view: known?.id ?? 'topology', node: node ? decodeURIComponent(node) : null };
}

function go(r: Route): void {
  location.hash = `#/${r.view}${r.node ? `/${encodeURIComponent(r.node)}` : ''}`;
}

function TokenPrompt({ wrong, onSet }: { wrong: boolean; onSet: () => void }) {
  const [token, setToken] = useState('');
  return (
    <form
      class="token"
      aria-label="Admin token"
      onSubmit={(e) => {
        e.preventDefault();
        storeToken(token.trim());
        onSet();
      }}
    >
      <h2>Admin token</h2>
      <p>
        This node has an admin token (<code>http.token</code>). It is kept for this tab only (sessionStorage) and sent with every
        call.
      </p>
      {wrong ? <p class="error" role="alert">That token was refused.</p> : null}
      <label>
        Token <input type="password" name="token" value={token} required autoFocus autoComplete="off" onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Use token</button>
    </form>
  );
}

export function App() {
  const [route, setRoute] = useState<Route>(readRoute);
  const [node, setNode] = useState<ConsoleNodeQuery['node'] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [needToken, setNeedToken] = useState(false);
  const [socket, setSocket] = useState<SocketState>('connecting');
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const on = (): void => setRoute(readRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  useEffect(() => onSocketState(setSocket), []);

  useEffect(() => {
    request(ConsoleNodeDocument).then(
      (r) => {
        setNode(r.node);
        setError(null);
        setNeedToken(r.node.security.adminToken && !storedToken());
      },
      (e: unknown) => {
        const err = e instanceof ApiError ? e : new ApiError(String(e), null);
        if (err.code === 'UNAUTHORIZED') setNeedToken(true);
        else setError(err);
      },
    );
  }, [attempt]);

  useEffect(() => {
    if (node) document.title = `${node.name} · stream-cascade console`;
  }, [node]);

  const tokenRefused = needToken && storedToken() !== null;
  const ready = node !== null && !needToken;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <div class="brand">
          <strong>{node?.name ?? 'stream-cascade'}</strong>
          {node ? <span class="sub">v{node.version} · {node.roles.map((r) => r.toLowerCase().replace('_', ' ')).join(', ')}</span> : null}
        </div>
        <span class={`live ${socket}`} role="status" aria-live="polite" data-socket={socket}>
          {socket === 'live' ? 'live' : socket === 'connecting' ? 'connecting…' : 'reconnecting…'}
        </span>
        {storedToken() ? (
          <button
            type="button"
            class="link"
            onClick={() => {
              storeToken(null);
              setNeedToken(true);
            }}
          >
            Forget token
          </button>
        ) : null}
        <nav aria-label="Views">
          {VIEWS.map((v) => (
            <a key={v.id} href={`#/${v.id}`} aria-current={route.view === v.id ? 'page' : undefined}>
              {v.title}
            </a>
          ))}
          <a href="/graphql">GraphiQL</a>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <ErrorLine error={error} />
        {needToken ? (
          <TokenPrompt
            wrong={tokenRefused}
            onSet={() => {
              setNeedToken(false);
              setAttempt((a) => a + 1);
            }}
          />
        ) : null}
        {ready && route.view === 'topology' ? <TopologyView onOpenNode={(n) => go({ view: 'streams', node: n })} /> : null}
        {ready && route.view === 'streams' ? <StreamsView node={route.node} onSelectNode={(n) => go({ view: 'streams', node: n })} /> : null}
        {ready && route.view === 'clients' ? <ClientsView serverRole={node.roles.includes('CASCADE_SERVER')} /> : null}
        {ready && route.view === 'pull-rules' ? <PullRulesView clientRole={node.roles.includes('CASCADE_CLIENT')} /> : null}
      </main>
    </>
  );
}
