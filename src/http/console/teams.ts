// Teams: the console's home page, and creating a team (its first key shown once).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html, fmtCount, fmtTime, fmtTotal, type Html } from './html.ts';
import { BASE, csrfField } from './layout.ts';
import type { ConsoleKit } from './kit.ts';

/** A secret shown once, with a copy button (the button needs JavaScript; the text is selectable). */
export function shownOnce(id: string, label: string, value: string, note: Html | string): Html {
  return html`<div class="secret" role="group" aria-labelledby="${id}-label">
    <p id="${id}-label"><strong>${label}</strong> — ${note}</p>
    <p><code id="${id}">${value}</code></p>
    <button type="button" class="secondary" data-copy="#${id}">Copy ${label}</button>
  </div>`;
}

export function teamsRoutes(app: FastifyInstance, kit: ConsoleKit) {
  const { services, reads } = kit.deps;

  const home = async (req: FastifyRequest, reply: FastifyReply, extra: { created?: Html; error?: string; name?: string } = {}, status = 200) => {
    const teams = await reads.teams();
    const body = html`
      ${extra.created ?? ''}
      ${teams.length === 0
        ? html`<p>No teams yet. Create the first one below; its API key is shown once.</p>`
        : html`<table>
          <caption class="sr-only">Teams</caption>
          <thead><tr><th scope="col">Team</th><th scope="col">Mode</th><th scope="col">Live users</th><th scope="col">Active keys</th><th scope="col">Webhook endpoints</th><th scope="col">Rate limit</th><th scope="col">Created</th></tr></thead>
          <tbody>${teams.map((t) => html`<tr>
            <td><a href="${BASE}/t/${t.id}/users">${t.name}</a><br><code class="muted">${t.id}</code></td>
            <td><span class="badge">${t.mode}</span></td>
            <td>${fmtTotal(t.liveUsers)}</td>
            <td>${t.activeKeys}</td>
            <td><a href="${BASE}/t/${t.id}/webhooks">${t.endpoints.total === 0 ? 'none' : `${t.endpoints.enabled} enabled${t.endpoints.total > t.endpoints.enabled ? `, ${t.endpoints.total - t.endpoints.enabled} disabled` : ''}`}</a></td>
            <td>${t.rateLimitPerMinute === null ? 'default' : `${fmtCount(t.rateLimitPerMinute)}/min`}</td>
            <td>${fmtTime(t.createdAt)}</td>
          </tr>`)}</tbody></table>`}
      <h2 id="create-team">Create a team</h2>
      <form method="post" action="${BASE}/teams" aria-labelledby="create-team">
        ${csrfField(req.consoleSession?.csrfToken)}
        <div class="row">
          <div><label for="team-name">Team name</label><input type="text" id="team-name" name="name" required maxlength="200" value="${extra.name ?? ''}"></div>
          <div><label for="team-mode">Mode</label><select id="team-mode" name="mode"><option value="sandbox">sandbox</option><option value="production">production</option></select></div>
          <div><button type="submit">Create team</button></div>
        </div>
      </form>`;
    return kit.page(req, reply, { title: 'Teams', body, current: 'teams', status: extra.error ? { text: extra.error, kind: 'error' } : extra.created ? { text: 'Team created. Copy its API key now: it is not shown again.', kind: 'ok' } : null }, status);
  };

  app.get('/', async (req, reply) => home(req, reply));

  app.post('/teams', async (req, reply) => {
    const f = kit.form(req);
    const mode = f.mode === 'production' ? 'production' : 'sandbox';
    try {
      const r = await services.teams.createTeam(String(f.name ?? ''), mode);
      await kit.audit(req, r.team.id, 'createTeam', null, 201);
      const created = html`${shownOnce('new-key', 'API key', r.apiKey, html`for team <a href="${BASE}/t/${r.team.id}/users">${r.team.name}</a>. Only its hash is stored: copy it now.`)}`;
      return home(req, reply, { created }, 201);
    } catch (e) {
      return home(req, reply, { error: kit.problem(e), name: String(f.name ?? '') }, 400);
    }
  });
}
