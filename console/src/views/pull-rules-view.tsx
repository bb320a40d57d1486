/** Pull rules of this node (cascade-client role): list, add, remove. */
import { useState } from 'preact/hooks';
import { request } from '../api';
import { ConsoleAddPullRuleDocument, ConsolePullRulesDocument, ConsoleRemovePullRuleDocument, ConsoleUpstreamChangedDocument } from '../generated/graphql';
import { since } from '../format';
import { useAction } from '../use-action';
import { useLiveQuery } from '../use-live-query';
import { ErrorLine, Table } from './parts';

export function PullRulesView({ clientRole }: { clientRole: boolean }) {
  const q = useLiveQuery(ConsolePullRulesDocument, { events: ConsoleUpstreamChangedDocument, pollMs: 5_000 });
  const [path, setPath] = useState('');
  const [url, setUrl] = useState('');
  const { busy, error, run } = useAction(q.reload);

  const add = (e: Event): void => {
    e.preventDefault();
    const streamPath = path.trim();
    run(async () => {
      await request(ConsoleAddPullRuleDocument, { streamPath, pullUrl: url.trim() || `cascade://${streamPath}` });
      setPath('');
      setUrl('');
    });
  };

  const up = q.data?.upstream ?? null;
  return (
    <section aria-labelledby="pull-title">
      <h2 id="pull-title">Pull rules</h2>
      {clientRole ? (
        <p class="hint">
          Streams kept pulled from the upper node {up ? <code>{up.serverName ?? up.server}</code> : null} while the link is up
          {up ? ` (link ${up.state.toLowerCase()})` : ''}.
        </p>
      ) : (
        <p class="hint">This node has no upper node (no cascade-client role): pull rules need one.</p>
      )}
      <form class="row-form" onSubmit={add} aria-label="New pull rule">
        <label>
          Stream path <input name="streamPath" value={path} required placeholder="live/camera1" onInput={(e) => setPath((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Pull URL{' '}
          <input name="pullUrl" value={url} placeholder={`cascade://${path || 'live/camera1'}`} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" disabled={busy}>
          Add rule
        </button>
      </form>
      <ErrorLine error={error ?? q.error} />
      {q.data ? (
        q.data.pullRules.length ? (
          <Table caption="Pull rules" headers={['Stream path', 'Pull URL', 'Source', 'Added', null]}>
            {q.data.pullRules.map((r) => (
              <tr key={r.streamPath} data-rule={r.streamPath}>
                <td data-label="Stream path">
                  <code>{r.streamPath}</code>
                </td>
                <td data-label="Pull URL">
                  <code>{r.pullUrl}</code>
                </td>
                <td data-label="Source">{r.source === 'CONFIG' ? 'config file' : 'API'}</td>
                <td data-label="Added">{since(r.createdTime)}</td>
                <td data-label="">
                  {r.source === 'API' ? (
                    <button type="button" disabled={busy} onClick={() => run(() => request(ConsoleRemovePullRuleDocument, { streamPath: r.streamPath }))} aria-label={`Remove the rule for ${r.streamPath}`}>
                      Remove
                    </button>
                  ) : (
                    <span class="hint">edit the YAML file</span>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        ) : (
          <p class="hint">No pull rules.</p>
        )
      ) : null}
    </section>
  );
}
