// Team settings: the mode (shown; fixed at creation, as the admin API and CLI have it) and the
// team's own per-key rate limit (the same service as PATCH /admin/teams/{id}).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleTeam } from '../../domain/console.ts';
import { html, fmtTime } from './html.ts';
import { BASE, csrfField } from './layout.ts';
import type { ConsoleKit } from './kit.ts';

export function settingsRoutes(app: FastifyInstance, kit: ConsoleKit) {
  const { services } = kit.deps;

  const page = (req: FastifyRequest, reply: FastifyReply, team: ConsoleTeam, msg: { text: string; kind: 'ok' | 'error' } | null, value?: string, status = 200) => {
    const body = html`
      <dl class="facts">
        <dt>Team id</dt><dd><code>${team.id}</code></dd>
        <dt>Name</dt><dd>${team.name}</dd>
        <dt>Mode</dt><dd><span class="badge">${team.mode}</span> <span class="muted">(set when the team is created: sandbox teams have demo connections and <code>sk_rst_</code> keys, production teams <code>pk_rst_</code> keys)</span></dd>
        <dt>Created</dt><dd>${fmtTime(team.createdAt)}</dd>
      </dl>
      <h2 id="limit-h">Rate limit</h2>
      <form method="post" action="${BASE}/t/${team.id}/settings" aria-labelledby="limit-h">${csrfField(req.consoleSession?.csrfToken)}
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
    return page(req, reply, team, (req.query as Record<string, unknown>).done === 'saved' ? { text: 'Settings saved.', kind: 'ok' } : null);
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
      return page(req, reply, team, { text: 'Not saved: the rate limit must be a whole number from 1 to 10,000,000, or empty for the default.', kind: 'error' }, raw, 400);
    }
    // Cached principals carry the old limit (as the admin API does).
    services.keys.clear();
    await kit.audit(req, team.id, 'setTeamRateLimit', null);
    return kit.redirect(reply, `${BASE}/t/${team.id}/settings`, 'saved');
  });
}
