// A user's webhook deliveries on its page: the newest across the team's endpoints (each read by the
// (team, user, endpoint) index of migration 0016), linking to each delivery.
import type { Services } from '../../services.ts';
import { html, fmtTime, type Html } from '../html.ts';
import { deliveryStatus, deliveryUrl, endpointUrl } from './views.ts';

const SHOWN = 20;

export async function userDeliveries(webhooks: Services['webhooks'], teamId: string, userId: string): Promise<Html> {
  const eps = await webhooks.list(teamId);
  if (eps.length === 0) return html`<p class="muted">The team has no webhook endpoints.</p>`;
  const byId = new Map(eps.map((e) => [e.id, e]));
  const lists = await Promise.all(eps.map((e) => webhooks.deliveries(teamId, e.id, { userId, limit: SHOWN })));
  const rows = lists.flatMap((l) => l.deliveries).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1)).slice(0, SHOWN);
  if (rows.length === 0) return html`<p class="muted">No webhook deliveries name this user.</p>`;
  return html`<table aria-labelledby="wh-h"><thead><tr><th scope="col">Created</th><th scope="col">Event type</th><th scope="col">Endpoint</th><th scope="col">Status</th><th scope="col">Attempts</th></tr></thead>
    <tbody>${rows.map((d) => html`<tr>
      <td><a href="${deliveryUrl(teamId, d.id)}">${fmtTime(d.createdAt)}</a></td>
      <td><code>${d.eventType}</code></td>
      <td><a href="${endpointUrl(teamId, d.endpointId)}">${byId.get(d.endpointId)?.url ?? d.endpointId}</a></td>
      <td>${deliveryStatus(d)}</td><td>${d.attempts}</td>
    </tr>`)}</tbody></table>
    <p class="muted">The newest ${SHOWN} at most; an endpoint's page lists all of its deliveries, filtered by user.</p>`;
}
