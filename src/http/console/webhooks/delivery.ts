// One delivery: the payload exactly as sent, its attempts (time, trigger, answer, duration, error,
// the start of the response body) and a manual retry, through WebhooksService as the admin API.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleTeam } from '../../../domain/console.ts';
import { html, fmtTime } from '../html.ts';
import { BASE, csrfField } from '../layout.ts';
import type { ConsoleKit } from '../kit.ts';
import { deliveryStatus, deliveryUrl, endpointUrl, webhooksUrl } from './views.ts';

export function deliveryRoutes(app: FastifyInstance, kit: ConsoleKit) {
  const w = kit.deps.services.webhooks;

  const page = async (req: FastifyRequest, reply: FastifyReply, team: ConsoleTeam, id: string, msg: { text: string; kind: 'ok' | 'error' } | null, status = 200) => {
    let r;
    try {
      r = await w.delivery(team.id, id);
    } catch (e) {
      kit.problem(e);
      return kit.page(req, reply, { title: 'Delivery not found', team, current: 'webhooks', body: html`<p>This team has no webhook delivery with this id (deliveries older than the retention period are removed). <a href="${webhooksUrl(team.id)}">All endpoints</a></p>` }, 404);
    }
    const d = r.delivery;
    const ep = await w.get(team.id, d.endpointId).catch(() => null);
    const body = html`
      <p>${ep ? html`<a href="${endpointUrl(team.id, ep.id)}">← Endpoint ${ep.url}</a>` : html`<a href="${webhooksUrl(team.id)}">← All endpoints</a> <span class="muted">(its endpoint was deleted)</span>`}</p>
      <dl class="facts">
        <dt>Status</dt><dd>${deliveryStatus(d)}${d.manual ? html` <span class="muted">(manual retry)</span>` : ''}</dd>
        <dt>Event type</dt><dd><code>${d.eventType}</code></dd>
        <dt>Event id</dt><dd><code>${d.eventId}</code></dd>
        <dt>User</dt><dd>${d.userId ? html`<a href="${BASE}/t/${team.id}/users/${d.userId}"><code>${d.userId}</code></a>` : html`<span class="muted">—</span>`}</dd>
        <dt>Format</dt><dd>${d.format}${d.batchId ? html` (batch <code>${d.batchId}</code>)` : ''}</dd>
        <dt>Attempts</dt><dd>${d.attempts}</dd>
        <dt>Last answer</dt><dd>${d.lastStatusCode ?? html`<span class="muted">—</span>`}</dd>
        <dt>Next attempt</dt><dd>${d.nextAttemptAt ? fmtTime(d.nextAttemptAt) : html`<span class="muted">—</span>`}</dd>
        <dt>Created</dt><dd>${fmtTime(d.createdAt)}</dd>
        <dt>Delivery id</dt><dd><code>${d.id}</code></dd>
      </dl>
      ${d.status === 'sending'
        ? html`<p class="muted">Being attempted right now; it can be retried once this attempt is over.</p>`
        : html`<form method="post" action="${deliveryUrl(team.id, d.id)}/retry">${csrfField(req.consoleSession?.csrfToken)}
          <button type="submit">Retry now</button> <span class="muted">A manual attempt, not rescheduled if it fails.</span></form>`}
      <h2 id="payload-h">Payload as sent</h2>
      <pre class="payload" aria-labelledby="payload-h" tabindex="0">${d.payload}</pre>
      <p class="muted">Signatures are computed per attempt from the endpoint's secret; the secret itself is never shown here.${d.format === 'onvy' ? ' Onvy deliveries are sent inside a batch envelope.' : ''}</p>
      <h2 id="attempts-h">Attempts</h2>
      ${r.attempts.length
        ? html`<table aria-labelledby="attempts-h"><thead><tr><th scope="col">#</th><th scope="col">Started</th><th scope="col">Trigger</th><th scope="col">HTTP status</th><th scope="col">Duration</th><th scope="col">Error</th><th scope="col">Response (start)</th></tr></thead>
          <tbody>${r.attempts.map((a) => html`<tr><td>${a.attempt}</td><td>${fmtTime(a.startedAt)}</td><td>${a.trigger}</td>
            <td>${a.statusCode || html`<span class="muted">—</span>`}</td><td>${a.durationMs} ms</td><td>${a.error ?? ''}</td><td>${a.responseExcerpt ? html`<code>${a.responseExcerpt}</code>` : ''}</td></tr>`)}</tbody></table>`
        : html`<p class="muted">Not attempted yet.</p>`}`;
    return kit.page(req, reply, { title: `Delivery ${d.eventType}`, team, current: 'webhooks', body, status: msg }, status);
  };

  const target = (req: FastifyRequest, reply: FastifyReply) =>
    kit.teamAndId(req, reply, { param: 'did', what: 'delivery', current: 'webhooks', back: (t) => [webhooksUrl(t), 'All endpoints'] });

  app.get('/t/:team/webhooks/deliveries/:did', async (req, reply) => {
    const t = await target(req, reply);
    if (!t) return reply;
    return page(req, reply, t.team, t.id, (req.query as Record<string, unknown>).done === 'retried' ? { text: 'Queued: the delivery is attempted again now.', kind: 'ok' } : null);
  });

  app.post('/t/:team/webhooks/deliveries/:did/retry', async (req, reply) => {
    const t = await target(req, reply);
    if (!t) return reply;
    try {
      await w.retry(t.team.id, t.id);
    } catch (e) {
      const msg = kit.problem(e);
      await kit.audit(req, t.team.id, 'retryWebhookDelivery', null, 400);
      return page(req, reply, t.team, t.id, { text: `Not retried: ${msg}`, kind: 'error' }, 409);
    }
    await kit.audit(req, t.team.id, 'retryWebhookDelivery', null, 202);
    return kit.redirect(reply, deliveryUrl(t.team.id, t.id), 'retried');
  });
}
