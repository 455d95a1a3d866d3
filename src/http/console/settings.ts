// Team settings: the mode (sandbox or production) and the team's own per-key rate limit, through
// the same TeamsService operations as PATCH /admin/teams/{id} and the CLI, each audited.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleTeam } from '../../domain/console.ts';
import { TEAM_MODES } from '../../domain/teams.ts';
import { html, fmtTime, raw } from './html.ts';
import { BASE, csrfField } from './layout.ts';
import type { ConsoleKit } from './kit.ts';

type Msg = { text: string; kind: 'ok' | 'error' } | null;

const DONE: Record<string, string> = {
  saved: 'Settings saved.',
  mode: 'Mode changed.',
};

export function settingsRoutes(app: FastifyInstance, kit: ConsoleKit) {
  const { services } = kit.deps;

  const page = (req: FastifyRequest, reply: FastifyReply, team: ConsoleTeam, msg: Msg, value?: string, status = 200) => {
    const csrf = csrfField(req.consoleSession?.csrfToken);
    const body = html`
      <dl class="facts">
        <dt>Team id</dt><dd><code>${team.id}</code></dd>
        <dt>Name</dt><dd>${team.name}</dd>
        <dt>Mode</dt><dd><span class="badge">${team.mode}</span></dd>
        <dt>Created</dt><dd>${fmtTime(team.createdAt)}</dd>
      </dl>
      <h2 id="mode-h">Mode</h2>
      <form method="post" action="${BASE}/t/${team.id}/settings/mode" aria-labelledby="mode-h">${csrf}
        <fieldset><legend>Team mode</legend>
          ${TEAM_MODES.map((m) => html`<label class="choice"><input type="radio" name="mode" value="${m}"${m === team.mode ? raw(' checked') : ''}> ${m}</label> `)}
        </fieldset>
        <p id="mode-help" class="muted">Sandbox teams may add demo connections and are held to the sandbox user cap
          (<code>ROSTER_SANDBOX_USER_CAP</code>, when set); production teams may not. Existing keys keep working
          (their <code>sk_rst_</code> or <code>pk_rst_</code> prefix stays); new keys get the new mode's prefix.
          Unused mobile sign-in tokens issued before the change stop working.</p>
        <button type="submit" aria-describedby="mode-help">Change mode</button>
      </form>
      <h2 id="limit-h">Rate limit</h2>
      <form method="post" action="${BASE}/t/${team.id}/settings" aria-labelledby="limit-h">${csrf}
        <div class="row">
          <div><label for="rate-limit">Requests per minute per key</label>
            <input type="number" id="rate-limit" name="rate_limit_per_minute" min="1" max="10000000" step="1" value="${value ?? (team.rateLimitPerMinute === null ? '' : String(team.rateLimitPerMinute))}" aria-describedby="rate-help"></div>
          <div><button type="submit">Save</button></div>
        </div>
        <p id="rate-help" class="muted">Empty = the server default (<code>ROSTER_RATE_LIMIT_PER_MINUTE</code>).</p>
      </form>`;
    return kit.page(req, reply, { title: 'Settings', team, current: 'settings', body, status: msg }, status);
  };

  app.get('/t/:team/settings', async (req, reply) => {
    const team = await kit.team(req, reply);
    if (!team) return reply;
    const done = (req.query as Record<string, unknown>).done;
    return page(req, reply, team, typeof done === 'string' && DONE[done] ? { text: DONE[done]!, kind: 'ok' } : null);
  });

  app.post('/t/:team/settings', async (req, reply) => {
    const team = await kit.team(req, reply);
    if (!team) return reply;
    const raw = String(kit.form(req).rate_limit_per_minute ?? '').trim();
    const limit = raw === '' ? null : /^\d{1,8}$/.test(raw) ? Number(raw) : NaN;
    try {
      if (Number.isNaN(limit)) throw new Error('not a number');
      await services.teams.setRateLimit(team.id, limit);
    } catch (e) {
      if (!(e instanceof Error) || (e.message !== 'not a number' && !('code' in e))) throw e;
      await kit.audit(req, team.id, 'setTeamRateLimit', null, 400);
      return page(req, reply, team, { text: 'Not saved: the rate limit must be a whole number from 1 to 10,000,000, or empty for the default.', kind: 'error' }, raw, 400);
    }
    // Cached principals carry the old limit (as the admin API does).
    services.keys.clear();
    await kit.audit(req, team.id, 'setTeamRateLimit', null);
    return kit.redirect(reply, `${BASE}/t/${team.id}/settings`, 'saved');
  });

  app.post('/t/:team/settings/mode', async (req, reply) => {
    const team = await kit.team(req, reply);
    if (!team) return reply;
    try {
      await services.teams.setMode(team.id, kit.form(req).mode);
    } catch (e) {
      const msg = kit.problem(e);
      await kit.audit(req, team.id, 'setTeamMode', null, 400);
      return page(req, reply, team, { text: `Mode not changed: ${msg}`, kind: 'error' }, undefined, 400);
    }
    // Cached principals carry the old mode (demo connections, the sandbox cap).
    services.keys.clear();
    await kit.audit(req, team.id, 'setTeamMode', null);
    return kit.redirect(reply, `${BASE}/t/${team.id}/settings`, 'mode');
  });
}
