/**
 * The lower nodes' records with their online state: create (the secret is shown once),
 * rotate a secret, delete. Refusals are shown as the API words them.
 */
import { useState } from 'preact/hooks';
import { newSecret, request } from '../api';
import type { ConsoleClientFieldsFragment } from '../generated/graphql';
import {
  ConsoleClientChangedDocument,
  ConsoleClientsDocument,
  ConsoleCreateClientDocument,
  ConsoleDeleteClientDocument,
  ConsoleRotateSecretDocument,
} from '../generated/graphql';
import { ms, since } from '../format';
import { useAction } from '../use-action';
import { useLiveQuery } from '../use-live-query';
import { ErrorLine, Table } from './parts';

interface Shown {
  name: string;
  secret: string;
  why: 'created' | 'rotated';
}

function ClientRow({ c, busy, act }: { c: ConsoleClientFieldsFragment; busy: boolean; act: (what: 'rotate' | 'delete', c: ConsoleClientFieldsFragment) => void }) {
  const [confirming, setConfirming] = useState(false);
  const state = c.online ? 'online' : 'offline';
  return (
    <tr data-client={c.name} data-online={String(c.online)}>
      <td data-label="Name">
        {c.name}
        {c.autoregistered ? <span class="tag">auto-registered</span> : null}
        {!c.hasSecret ? <span class="tag warn">no secret</span> : null}
      </td>
      <td data-label="State">
        <span class={`dot ${state}`} aria-hidden="true" /> {state}
      </td>
      <td data-label="Address">{c.ip ?? '—'}</td>
      <td data-label="Version">{c.version ?? '—'}</td>
      <td data-label="RTT">{ms(c.rttMs)}</td>
      <td data-label={c.online ? 'Connected' : 'Last seen'}>{since(c.online ? c.connectedSince : c.lastSeen)}</td>
      <td data-label="" class="actions">
        <button type="button" disabled={busy} onClick={() => act('rotate', c)} aria-label={`Rotate the secret of ${c.name}`}>
          Rotate secret
        </button>
        {confirming ? (
          <>
            <button type="button" class="danger" disabled={busy} onClick={() => act('delete', c)} aria-label={`Confirm: delete ${c.name}`}>
              Confirm delete
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </>
        ) : (
          <button type="button" disabled={busy} onClick={() => setConfirming(true)} aria-label={`Delete ${c.name}`}>
            Delete
          </button>
        )}
      </td>
    </tr>
  );
}

export function ClientsView({ serverRole }: { serverRole: boolean }) {
  const q = useLiveQuery(ConsoleClientsDocument, { events: ConsoleClientChangedDocument, pollMs: 5_000 });
  const [name, setName] = useState('');
  const [secret, setSecret] = useState('');
  const [shown, setShown] = useState<Shown | null>(null);
  const { busy, error, run } = useAction(q.reload);

  const create = (e: Event): void => {
    e.preventDefault();
    const s = secret || newSecret();
    run(async () => {
      const r = await request(ConsoleCreateClientDocument, { name: name.trim(), secret: s });
      setShown({ name: r.createClient.name, secret: s, why: 'created' });
      setName('');
      setSecret('');
    });
  };

  const act = (what: 'rotate' | 'delete', c: ConsoleClientFieldsFragment): void => {
    run(async () => {
      if (what === 'delete') {
        await request(ConsoleDeleteClientDocument, { id: c.id });
        if (shown?.name === c.name) setShown(null);
      } else {
        const s = newSecret();
        await request(ConsoleRotateSecretDocument, { id: c.id, secret: s });
        setShown({ name: c.name, secret: s, why: 'rotated' });
      }
    });
  };

  return (
    <section aria-labelledby="clients-title">
      <h2 id="clients-title">Clients</h2>
      {!serverRole ? <p class="hint">This node has no cascade-server role: no lower node connects to it.</p> : null}
      <form class="row-form" onSubmit={create} aria-label="New client">
        <label>
          Name <input name="name" value={name} required maxLength={64} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Secret <input name="secret" value={secret} placeholder="empty: generate one" autoComplete="off" onInput={(e) => setSecret((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" disabled={busy}>
          Create client
        </button>
      </form>
      <ErrorLine error={error} />
      {shown ? (
        <div class="secret" role="status" data-secret-for={shown.name}>
          <p>
            Secret of <strong>{shown.name}</strong> ({shown.why}). It is shown this once: the node keeps only its hash. Put it in
            the lower node's <code>cascade-client.secret</code>.
          </p>
          <code class="secret-value">{shown.secret}</code>
          <div>
            <button type="button" onClick={() => void navigator.clipboard?.writeText(shown.secret).catch(() => undefined)}>
              Copy
            </button>
            <button type="button" onClick={() => setShown(null)}>
              Done
            </button>
          </div>
        </div>
      ) : null}
      <ErrorLine error={q.error} />
      {q.data ? (
        q.data.clients.length ? (
          <Table caption="Client records" headers={['Name', 'State', 'Address', 'Version', 'RTT', 'Since', null]}>
            {q.data.clients.map((c) => (
              <ClientRow key={c.id} c={c} busy={busy} act={act} />
            ))}
          </Table>
        ) : (
          <p class="hint">No client records yet.</p>
        )
      ) : null}
    </section>
  );
}
