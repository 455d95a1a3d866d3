// A team's API keys: list (display prefixes only), create (shown once), revoke (confirmed; takes
// effect at once on every instance, through the same service as the admin API).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleTeam } from '../../domain/console.ts';
import { parseUuid } from '../../domain/ids.ts';
import { html, fmtTime, type Html } from './html.ts';
import { BASE, csrfField } from './layout.ts';
import { shownOnce } from './teams.ts';
import type { ConsoleKit } from './kit.ts';

export function keysRoutes(app: FastifyInstance, kit: ConsoleKit) {
  const { services } = kit.deps;

  const keysPage = async (req: FastifyRequest, reply: FastifyReply, team: ConsoleTeam, extra: { shown?: Html; error?: string; ok?: string } = {}, status = 200) => {
    const keys = await services.teams.listKeys(team.id);
    const url = `${BASE}/t/${team.id}/keys`;
    const csrf = csrfField(req.consoleSession?.csrfToken);
    const body = html`
      ${extra.shown ?? ''}
      <p>Keys authenticate every face (<code>x-vital-api-key</code>, <code>X-API-Key</code>, <code>Authorization: Bearer</code>). Only a key's hash and display prefix are stored.</p>
      <table>
        <caption class="sr-only">API keys</caption>
        <thead><tr><th scope="col">Prefix</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${keys.map((k) => html`<tr>
          <td><code>${k.prefix}…</code><br><code class="muted">${k.id}</code></td>
          <td>${k.role}</td>
          <td>${fmtTime(k.createdAt)}</td>
          <td>${k.revokedAt ? html`<span class="badge revoked">revoked ${fmtTime(k.revokedAt)}</span>` : html`<span class="badge active">active</span>`}</td>
          <td>${k.revokedAt ? '' : html`<form method="post" action="${url}/${k.id}/revoke">${csrf}
              <label><input type="checkbox" name="confirm" value="1" required> I understand requests with <code>${k.prefix}…</code> stop working at once</label>
              <button type="submit" class="danger" aria-label="Revoke key ${k.prefix}">Revoke</button></form>`}</td>
        </tr>`)}</tbody>
      </table>
      <h2 id="create-key">Create a key</h2>
      <form method="post" action="${url}" aria-labelledby="create-key">${csrf}
        <div class="row">
          <div><label for="key-role">Role</label><select id="key-role" name="role"><option value="full">full</option><option value="read_only">read_only</option></select></div>
          <div><button type="submit">Create key</button></div>
        </div>
      </form>`;
    const statusMsg = extra.error ? { text: extra.error, kind: 'error' as const } : extra.shown ? { text: 'Key created. Copy it now: it is not shown again.', kind: 'ok' as const } : extra.ok ? { text: extra.ok, kind: 'ok' as const } : null;
    return kit.page(req, reply, { title: 'API keys', team, current: 'keys', body, status: statusMsg }, status);
  };

  app.get('/t/:team/keys', async (req, reply) => {
    const team = await kit.team(req, reply);
    if (!team) return reply;
    const done = (req.query as Record<string, unknown>).done;
    return keysPage(req, reply, team, done === 'revoked' ? { ok: 'Key revoked: requests with it are refused from now on.' } : {});
  });

  app.post('/t/:team/keys', async (req, reply) => {
    const team = await kit.team(req, reply);
    if (!team) return reply;
    const role = kit.form(req).role === 'read_only' ? 'read_only' : 'full';
    const { apiKey, key } = await services.teams.createKey(team.id, role);
    await kit.audit(req, team.id, 'createKey', null, 201);
    return keysPage(req, reply, team, { shown: shownOnce('new-key', 'API key', apiKey, `${role} key ${key.prefix}…; only its hash is stored.`) }, 201);
  });

  app.post('/t/:team/keys/:key/revoke', async (req, reply) => {
    const team = await kit.team(req, reply);
    if (!team) return reply;
    const keyId = parseUuid((req.params as { key: string }).key);
    const keys = await services.teams.listKeys(team.id);
    if (!keyId || !keys.some((k) => k.id === keyId)) return keysPage(req, reply, team, { error: 'This team has no such key.' }, 404);
    if (kit.form(req).confirm !== '1') return keysPage(req, reply, team, { error: 'Not revoked: tick the box to confirm.' }, 400);
    await services.revokeKey(keyId);
    await kit.audit(req, team.id, 'revokeKey', null);
    return kit.redirect(reply, `${BASE}/t/${team.id}/keys`, 'revoked');
  });
}
