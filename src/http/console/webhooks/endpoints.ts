// A team's webhook endpoints with their health (state, why disabled, first failure, the last 24 h
// of attempts), and registering one (its signing secret shown once). Through WebhooksService, the
// same operations as the admin API; every change audited as console.<operation>.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FORMATS, type WebhookFormat } from '../../../domain/webhooks/events.ts';
import type { ConsoleTeam } from '../../../domain/console.ts';
import { hasForbiddenChars } from '../../../domain/text.ts';
import { html, fmtTime, raw, type Html } from '../html.ts';
import { csrfField } from '../layout.ts';
import { shownOnce } from '../teams.ts';
import type { ConsoleKit } from '../kit.ts';
import { FORMAT_LABEL, RATE_LIMIT_PROBLEM, endpointState, endpointUrl, eventChoices, isFormat, readFilter, readRateLimit, webhooksUrl } from './views.ts';

interface Draft { url: string; format: WebhookFormat; description: string; rateLimit: string; filter: string[] | null }
const EMPTY: Draft = { url: '', format: 'junction', description: '', rateLimit: '', filter: null };

export function endpointsRoutes(app: FastifyInstance, kit: ConsoleKit) {
  const w = kit.deps.services.webhooks;

  const listPage = async (req: FastifyRequest, reply: FastifyReply, team: ConsoleTeam, extra: { shown?: Html; error?: string; ok?: string; draft?: Draft } = {}, status = 200) => {
    const eps = await w.list(team.id);
    const stats = await Promise.all(eps.map((e) => w.stats(team.id, e.id)));
    const d = extra.draft ?? EMPTY;
    const opt = (v: string, label: string) => html`<option value="${v}"${v === d.format ? raw(' selected') : ''}>${label}</option>`;
    const body = html`
      ${extra.shown ?? ''}
      <p>Every change of a user, connection or device reaches these endpoints, signed in the format the receiver verifies (<code>docs/webhooks.md</code>).</p>
      ${eps.length === 0
        ? html`<p>No endpoints yet. Register the first one below.</p>`
        : html`<table>
          <caption class="sr-only">Webhook endpoints and their health</caption>
          <thead><tr><th scope="col">Endpoint</th><th scope="col">Format</th><th scope="col">State</th><th scope="col">Failing since</th><th scope="col">Last 24 h: attempts</th><th scope="col">succeeded</th><th scope="col">failed</th></tr></thead>
          <tbody>${eps.map((e, i) => html`<tr>
            <td><a href="${endpointUrl(team.id, e.id)}">${e.url}</a>${e.description ? html`<br><span class="muted">${e.description}</span>` : ''}</td>
            <td>${e.format}</td>
            <td>${endpointState(e)}</td>
            <td>${e.firstFailureAt ? fmtTime(e.firstFailureAt) : html`<span class="muted">—</span>`}</td>
            <td>${stats[i]!.attempts}</td>
            <td>${stats[i]!.successes}</td>
            <td>${stats[i]!.failures ? html`<strong>${stats[i]!.failures}</strong>` : '0'}</td>
          </tr>`)}</tbody></table>`}
      <h2 id="create-h">Register an endpoint</h2>
      <form method="post" action="${webhooksUrl(team.id)}" aria-labelledby="create-h">${csrfField(req.consoleSession?.csrfToken)}
        <div class="row">
          <div><label for="wh-url">Endpoint URL</label><input type="url" id="wh-url" name="url" required maxlength="2048" value="${d.url}" placeholder="https://example.com/webhooks/roster"></div>
          <div><label for="wh-format">Format</label><select id="wh-format" name="format">${FORMATS.map((f) => opt(f, FORMAT_LABEL[f]))}</select></div>
        </div>
        <div class="row">
          <div><label for="wh-desc">Description</label><input type="text" id="wh-desc" name="description" maxlength="1000" value="${d.description}"></div>
          <div><label for="wh-rate">Rate limit (deliveries per second)</label><input type="number" id="wh-rate" name="rate_limit" min="1" max="100000" step="1" value="${d.rateLimit}" aria-describedby="wh-rate-help"></div>
        </div>
        <p id="wh-rate-help" class="muted">Empty: no limit.</p>
        <p class="muted">Tick event types in the list of the format chosen above; the other lists are ignored.</p>
        ${FORMATS.map((f) => eventChoices(f, f === d.format ? d.filter : null, `Event types for a ${FORMAT_LABEL[f]} endpoint`))}
        <button type="submit">Register endpoint</button>
      </form>`;
    const msg = extra.error ? { text: extra.error, kind: 'error' as const } : extra.shown ? { text: 'Endpoint registered. Copy its signing secret now; it can be revealed again on the endpoint\'s page.', kind: 'ok' as const } : extra.ok ? { text: extra.ok, kind: 'ok' as const } : null;
    return kit.page(req, reply, { title: 'Webhooks', team, current: 'webhooks', body, status: msg }, status);
  };

  app.get('/t/:team/webhooks', async (req, reply) => {
    const team = await kit.team(req, reply);
    if (!team) return reply;
    return listPage(req, reply, team, (req.query as Record<string, unknown>).done === 'deleted' ? { ok: 'Endpoint deleted; its pending deliveries were cancelled.' } : {});
  });

  app.post('/t/:team/webhooks', async (req, reply) => {
    const team = await kit.team(req, reply);
    if (!team) return reply;
    const f = kit.form(req);
    const format = isFormat(f.format) ? f.format : null;
    const draft: Draft = { url: String(f.url ?? '').trim(), format: format ?? 'junction', description: String(f.description ?? '').trim(), rateLimit: String(f.rate_limit ?? ''), filter: format ? readFilter(f, format) : null };
    const rate = readRateLimit(f.rate_limit);
    const problem = !format ? 'Choose a format: junction, standard or onvy.'
      : rate === 'bad' ? RATE_LIMIT_PROBLEM
      : draft.url.length === 0 || draft.url.length > 2048 || hasForbiddenChars(draft.url) ? 'The URL must be 1 to 2,048 characters.'
      : draft.description.length > 1000 || hasForbiddenChars(draft.description) ? 'The description must be at most 1,000 characters.'
      : null;
    if (problem) return listPage(req, reply, team, { error: `Not registered: ${problem}`, draft }, 400);
    try {
      const ep = await w.create(team.id, {
        url: draft.url, format: format!, description: draft.description, filterTypes: draft.filter, ...(rate !== null && rate !== 'bad' ? { rateLimit: rate } : {}),
      });
      await kit.audit(req, team.id, 'createWebhook', null, 201);
      const shown = shownOnce('new-secret', 'Signing secret', ep.secret, html`for <a href="${endpointUrl(team.id, ep.id)}">${ep.url}</a>. Receivers verify every delivery with it.`);
      return listPage(req, reply, team, { shown }, 201);
    } catch (e) {
      const msg = kit.problem(e);
      await kit.audit(req, team.id, 'createWebhook', null, 400);
      return listPage(req, reply, team, { error: `Not registered: ${msg}`, draft }, 400);
    }
  });
}
