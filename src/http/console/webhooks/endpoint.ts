// One webhook endpoint: its settings and health, enable/disable, delete, the signing secret (reveal,
// rotate with a grace period), a synchronous test, recovery of failed deliveries, and its
// deliveries with filters. Through WebhooksService (as the admin API); every change audited.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CATALOGUE } from '../../../domain/webhooks/events.ts';
import { HEADER_MASK, maskedHeaders, unmaskHeaders } from '../../../domain/webhooks/headers.ts';
import type { Endpoint } from '../../../domain/webhooks/ports.ts';
import type { ConsoleTeam } from '../../../domain/console.ts';
import { parseUuid } from '../../../domain/ids.ts';
import { hasForbiddenChars } from '../../../domain/text.ts';
import { html, fmtTime, parseTime, raw, toLocalInput, type Html } from '../html.ts';
import { BASE, csrfField } from '../layout.ts';
import { shownOnce } from '../teams.ts';
import type { ConsoleKit } from '../kit.ts';
import {
  DELIVERY_STATUSES, FORMAT_LABEL, RATE_LIMIT_PROBLEM, deliveryStatus, deliveryUrl, endpointState, endpointUrl, eventChoices, readFilter, readRateLimit, webhooksUrl,
} from './views.ts';

const PAGE = 50;

const DONE: Record<string, string> = {
  saved: 'Endpoint saved.',
  enabled: 'Endpoint enabled: deliveries resume, its failure clock starts again.',
  disabled: 'Endpoint disabled: nothing is sent to it until it is enabled.',
};

const GRACE: [string, string][] = [['86400', '24 hours'], ['3600', '1 hour'], ['604800', '7 days'], ['0', 'none: stop at once']];

interface Extra { shown?: Html; result?: Html; error?: string; ok?: string; draft?: { url: string; description: string; rateLimit: string; filter: string[] | null; headers: string } }

/** Custom headers as the settings form shows them: one `Name: value` per line, credentials masked. */
const headersText = (h: Record<string, string>) => Object.entries(maskedHeaders(h)).map(([k, v]) => `${k}: ${v}`).join('\n');

/**
 * The form's headers text as a map, or a problem. Blank lines are skipped; a name given twice is
 * refused (which value was meant?). Names and values are then checked by WebhooksService, as the
 * admin API's are.
 */
function readHeaders(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return `Line ${i + 1} of the custom headers is not "Name: value".`;
    const name = line.slice(0, colon).trim();
    if (Object.keys(out).some((k) => k.toLowerCase() === name.toLowerCase())) return `The custom header "${name}" is given twice.`;
    out[name] = line.slice(colon + 1).trim();
  }
  return Object.keys(out).length > 20 ? 'At most 20 custom headers.' : out;
}

interface DeliveryFilter { status: string; event: string; user: string; cursor: string }

function readDeliveryFilter(q: Record<string, unknown>, ep: Endpoint): { f: DeliveryFilter; problem: string | null } {
  const s = (k: string) => (typeof q[k] === 'string' ? (q[k] as string).trim() : '');
  let problem: string | null = null;
  const status = (DELIVERY_STATUSES as readonly string[]).includes(s('status')) ? s('status') : '';
  const event = CATALOGUE[ep.format].some((e) => e.name === s('event')) ? s('event') : '';
  let user = s('user');
  if (user && !parseUuid(user)) { problem = 'The user filter must be a Junction user_id (a UUID).'; user = ''; }
  const cursor = parseUuid(s('cursor')) ? s('cursor') : '';
  return { f: { status, event, user, cursor }, problem };
}

function filterQuery(f: DeliveryFilter, over: Partial<DeliveryFilter> = {}): string {
  const m = { ...f, ...over };
  const p = new URLSearchParams();
  for (const k of ['status', 'event', 'user', 'cursor'] as const) if (m[k]) p.set(k, m[k]);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export function endpointRoutes(app: FastifyInstance, kit: ConsoleKit) {
  const w = kit.deps.services.webhooks;

  const page = async (req: FastifyRequest, reply: FastifyReply, team: ConsoleTeam, ep: Endpoint, extra: Extra = {}, status = 200) => {
    const url = endpointUrl(team.id, ep.id);
    const csrf = csrfField(req.consoleSession?.csrfToken);
    const { f, problem } = readDeliveryFilter(req.method === 'GET' ? (req.query as Record<string, unknown>) : {}, ep);
    const [stats, list] = await Promise.all([
      w.stats(team.id, ep.id),
      w.deliveries(team.id, ep.id, { limit: PAGE, ...(f.status ? { status: f.status } : {}), ...(f.event ? { eventType: f.event } : {}), ...(f.user ? { userId: parseUuid(f.user)! } : {}), ...(f.cursor ? { cursor: parseUuid(f.cursor)! } : {}) }),
    ]);
    const d = extra.draft ?? { url: ep.url, description: ep.description, rateLimit: ep.rateLimit === null ? '' : String(ep.rateLimit), filter: ep.filterTypes, headers: headersText(ep.headers) };
    const opt = (v: string, label: string, cur: string) => html`<option value="${v}"${v === cur ? raw(' selected') : ''}>${label}</option>`;
    const sendable = CATALOGUE[ep.format].filter((e) => e.domain !== null);
    const headerNames = Object.keys(ep.headers);
    const body = html`
      ${extra.shown ?? ''}
      ${extra.result ?? ''}
      <p><a href="${webhooksUrl(team.id)}">← All endpoints</a></p>
      <dl class="facts">
        <dt>URL</dt><dd><code>${ep.url}</code></dd>
        <dt>Format</dt><dd>${FORMAT_LABEL[ep.format]}</dd>
        <dt>Description</dt><dd>${ep.description || html`<span class="muted">—</span>`}</dd>
        <dt>State</dt><dd>${endpointState(ep)}</dd>
        <dt>Failing since</dt><dd>${ep.firstFailureAt ? fmtTime(ep.firstFailureAt) : html`<span class="muted">— (no failure since the last success)</span>`}</dd>
        <dt>Last 24 hours</dt><dd>${stats.attempts} attempts: ${stats.successes} succeeded, ${stats.failures} failed</dd>
        <dt>Event types</dt><dd>${ep.filterTypes ? ep.filterTypes.map((t) => html`<code>${t}</code> `) : html`<span class="muted">no filter (the format's default events)</span>`}</dd>
        <dt>Rate limit</dt><dd>${ep.rateLimit === null ? html`<span class="muted">none</span>` : `${ep.rateLimit} per second`}</dd>
        <dt>Custom headers</dt><dd>${headerNames.length ? headerNames.map((h) => html`<code>${h}</code> `) : html`<span class="muted">none</span>`}</dd>
        <dt>Id</dt><dd><code>${ep.id}</code></dd>
        <dt>Created</dt><dd>${fmtTime(ep.createdAt)}</dd>
      </dl>
      <div class="actions">
        <form method="post" action="${url}/${ep.disabled ? 'enable' : 'disable'}">${csrf}<button type="submit" class="secondary">${ep.disabled ? 'Enable endpoint' : 'Disable endpoint'}</button></form>
      </div>

      <h2 id="test-h">Send a test event</h2>
      <form method="post" action="${url}/test" aria-labelledby="test-h">${csrf}
        <div class="row">
          <div><label for="test-type">Event type</label><select id="test-type" name="event_type">${sendable.map((e) => opt(e.name, e.name, ''))}</select></div>
          <div><button type="submit">Send test event</button></div>
        </div>
        <p class="muted">An example event is signed and sent now, and the answer shown here; it is not stored as a delivery.</p>
      </form>

      <h2 id="secret-h">Signing secret</h2>
      <div class="actions">
        <form method="post" action="${url}/secret" aria-label="Reveal the signing secret">${csrf}<button type="submit" class="secondary">Reveal secret</button></form>
        <form method="post" action="${url}/rotate" aria-label="Rotate the signing secret">${csrf}
          <div class="row"><div><label for="grace">Old secret keeps signing for</label><select id="grace" name="grace_period_seconds">${GRACE.map(([v, l]) => opt(v, l, '86400'))}</select></div>
          <div><button type="submit">Rotate secret</button></div></div>
        </form>
      </div>
      <p class="muted">During the grace period every delivery carries a signature with the old secret and one with the new, so receivers can switch without losing any. ${ep.oldSecrets.length ? `${ep.oldSecrets.length} older secret(s) still sign until ${ep.oldSecrets.map((s) => fmtTime(new Date(s.expires_at))).join(', ')}.` : ''}</p>

      <h2 id="settings-h">Settings</h2>
      <form method="post" action="${url}" aria-labelledby="settings-h">${csrf}
        <div class="row">
          <div><label for="wh-url">Endpoint URL</label><input type="url" id="wh-url" name="url" required maxlength="2048" value="${d.url}"></div>
          <div><label for="wh-desc">Description</label><input type="text" id="wh-desc" name="description" maxlength="1000" value="${d.description}"></div>
          <div><label for="wh-rate">Rate limit (deliveries per second)</label><input type="number" id="wh-rate" name="rate_limit" min="1" max="100000" step="1" value="${d.rateLimit}"></div>
        </div>
        ${eventChoices(ep.format, d.filter, 'Event types')}
        <label for="wh-headers">Custom headers (sent with every delivery; one <code>Name: value</code> per line)</label>
        <textarea id="wh-headers" name="headers" rows="3" maxlength="20000" spellcheck="false" aria-describedby="wh-headers-note">${d.headers}</textarea>
        <p class="muted" id="wh-headers-note">For example <code>Authorization: Bearer …</code> for a receiver behind a gateway. Values of credential-like headers are shown as <code>${HEADER_MASK}</code>: leave that to keep the stored value. The signature headers cannot be set.</p>
        <button type="submit">Save endpoint</button>
      </form>

      <h2 id="recover-h">Recover failed deliveries</h2>
      <form method="post" action="${url}/recover" aria-labelledby="recover-h">${csrf}
        <div class="row">
          <div><label for="since">Failed deliveries made since (UTC)</label><input type="datetime-local" id="since" name="since" required value="${toLocalInput(new Date(kit.now().getTime() - 86_400_000))}"></div>
          <div><button type="submit">Recover</button></div>
        </div>
        <p class="muted">Each is queued again with a fresh retry schedule.</p>
      </form>

      <h2 id="deliveries-h">Deliveries</h2>
      <form method="get" action="${url}" aria-label="Filter deliveries">
        <div class="row">
          <div><label for="d-status">Status</label><select id="d-status" name="status">${opt('', 'Any status', f.status)}${DELIVERY_STATUSES.map((s) => opt(s, s, f.status))}</select></div>
          <div><label for="d-event">Event type</label><select id="d-event" name="event">${opt('', 'Any event type', f.event)}${CATALOGUE[ep.format].map((e) => opt(e.name, e.name, f.event))}</select></div>
          <div><label for="d-user">User id</label><input type="text" id="d-user" name="user" value="${f.user}"></div>
          <div><button type="submit">Filter</button></div>
        </div>
      </form>
      ${list.deliveries.length
        ? html`<table><caption class="sr-only">Deliveries, newest first</caption>
          <thead><tr><th scope="col">Created</th><th scope="col">Event type</th><th scope="col">User</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Next attempt</th></tr></thead>
          <tbody>${list.deliveries.map((x) => html`<tr>
            <td><a href="${deliveryUrl(team.id, x.id)}">${fmtTime(x.createdAt)}</a></td>
            <td><code>${x.eventType}</code></td>
            <td>${x.userId ? html`<a href="${kitUserUrl(team.id, x.userId)}"><code>${x.userId}</code></a>` : html`<span class="muted">—</span>`}</td>
            <td>${deliveryStatus(x)}</td><td>${x.attempts}</td><td>${x.lastStatusCode ?? ''}</td><td>${x.nextAttemptAt ? fmtTime(x.nextAttemptAt) : ''}</td>
          </tr>`)}</tbody></table>`
        : html`<p>No deliveries match.</p>`}
      <nav class="pager" aria-label="Pages of deliveries">
        ${f.cursor ? html`<a href="${url}${filterQuery(f, { cursor: '' })}">Newest deliveries</a>` : ''}
        ${list.nextCursor ? html`<a href="${url}${filterQuery(f, { cursor: list.nextCursor })}" rel="next">Older deliveries</a>` : html`<span class="muted">No older deliveries</span>`}
      </nav>

      <h2 id="delete-h">Delete this endpoint</h2>
      <form method="post" action="${url}/delete" aria-labelledby="delete-h">${csrf}
        <label><input type="checkbox" name="confirm" value="1" required> I understand its pending deliveries are cancelled and nothing more is sent to it</label>
        <button type="submit" class="danger">Delete endpoint</button>
      </form>`;
    const done = typeof (req.query as Record<string, unknown>)?.done === 'string' ? DONE[(req.query as Record<string, string>).done!] : undefined;
    const err = extra.error ?? problem;
    const msg = err ? { text: err, kind: 'error' as const } : extra.ok ? { text: extra.ok, kind: 'ok' as const } : done ? { text: done, kind: 'ok' as const } : null;
    // A bad filter in the address is a 400; a test whose receiver refused is still a 200 (it was sent).
    return kit.page(req, reply, { title: `Webhook ${ep.url}`, team, current: 'webhooks', body, status: msg }, problem && status === 200 ? 400 : status);
  };

  /** The team and endpoint named in the path, or a 404 page was sent (null). */
  const target = async (req: FastifyRequest, reply: FastifyReply): Promise<{ team: ConsoleTeam; ep: Endpoint } | null> => {
    const team = await kit.team(req, reply);
    if (!team) return null;
    const id = parseUuid((req.params as { id: string }).id);
    const ep = id ? await w.get(team.id, id).catch((e) => { kit.problem(e); return null; }) : null;
    if (!ep) {
      await kit.page(req, reply, { title: 'Endpoint not found', team, current: 'webhooks', body: html`<p>This team has no webhook endpoint with this id. <a href="${webhooksUrl(team.id)}">All endpoints</a></p>` }, 404);
      return null;
    }
    return { team, ep };
  };

  app.get('/t/:team/webhooks/:id', async (req, reply) => {
    const t = await target(req, reply);
    return t ? page(req, reply, t.team, t.ep) : reply;
  });

  /**
   * An endpoint action: run it, audit it as console.<operation>, then either back to the page with
   * a message (a string: redirect, so a reload repeats nothing) or the page with what it returned
   * (shown once: a secret, a test's answer).
   */
  const action = (path: string, operation: string, run: (t: { team: ConsoleTeam; ep: Endpoint }, f: Record<string, string>) => Promise<string | Extra>) => {
    app.post(`/t/:team/webhooks/:id${path}`, async (req, reply) => {
      const t = await target(req, reply);
      if (!t) return reply;
      let r: string | Extra;
      try {
        r = await run(t, kit.form(req));
      } catch (e) {
        const msg = e instanceof DraftProblem ? e.message : kit.problem(e);
        await kit.audit(req, t.team.id, operation, null, 400);
        return page(req, reply, t.team, t.ep, { error: msg, ...(e instanceof DraftProblem && e.draft ? { draft: e.draft } : {}) }, 400);
      }
      await kit.audit(req, t.team.id, operation, null);
      if (typeof r === 'string') return r === 'deleted' ? kit.redirect(reply, webhooksUrl(t.team.id), 'deleted') : kit.redirect(reply, endpointUrl(t.team.id, t.ep.id), r);
      return page(req, reply, t.team, await w.get(t.team.id, t.ep.id), r);
    });
  };

  action('', 'updateWebhook', async ({ team, ep }, f) => {
    const draft = { url: String(f.url ?? '').trim(), description: String(f.description ?? '').trim(), rateLimit: String(f.rate_limit ?? ''), filter: readFilter(f, ep.format), headers: String(f.headers ?? '') };
    const rate = readRateLimit(f.rate_limit);
    // A form from before the headers field (or without it) leaves the headers as they are.
    const headers = f.headers === undefined ? undefined : readHeaders(draft.headers);
    const problem = rate === 'bad' ? RATE_LIMIT_PROBLEM
      : typeof headers === 'string' ? headers
      : draft.url.length === 0 || draft.url.length > 2048 || hasForbiddenChars(draft.url) ? 'The URL must be 1 to 2,048 characters.'
      : draft.description.length > 1000 || hasForbiddenChars(draft.description) ? 'The description must be at most 1,000 characters.'
      : null;
    if (problem) throw new DraftProblem(`Not saved: ${problem}`, draft);
    try {
      await w.update(team.id, ep.id, { url: draft.url, description: draft.description, filterTypes: draft.filter, rateLimit: rate as number | null, ...(headers ? { headers: unmaskHeaders(headers as Record<string, string>, ep.headers) } : {}) });
    } catch (e) {
      throw new DraftProblem(`Not saved: ${kit.problem(e)}`, draft);
    }
    return 'saved';
  });
  action('/disable', 'updateWebhook', async ({ team, ep }) => { await w.update(team.id, ep.id, { disabled: true }); return 'disabled'; });
  action('/enable', 'updateWebhook', async ({ team, ep }) => { await w.update(team.id, ep.id, { disabled: false }); return 'enabled'; });
  action('/delete', 'deleteWebhook', async ({ team, ep }, f) => {
    if (f.confirm !== '1') throw new DraftProblem('Not deleted: tick the box to confirm.', null);
    await w.remove(team.id, ep.id);
    return 'deleted';
  });
  action('/secret', 'revealWebhookSecret', async ({ team, ep }) => {
    const cur = await w.get(team.id, ep.id);
    return { shown: shownOnce('secret', 'Signing secret', cur.secret, 'receivers verify deliveries with it; revealing it is recorded in the audit trail.'), ok: 'Secret revealed.' };
  });
  action('/rotate', 'rotateWebhookSecret', async ({ team, ep }, f) => {
    const g = String(f.grace_period_seconds ?? '86400');
    const grace = GRACE.some(([v]) => v === g) ? Number(g) : 86_400;
    const key = await w.rotate(team.id, ep.id, undefined, grace);
    return { shown: shownOnce('secret', 'New signing secret', key, grace ? `the old one keeps signing for ${GRACE.find(([v]) => v === g)![1]}.` : 'the old one no longer signs.'), ok: 'Secret rotated.' };
  });
  action('/test', 'testWebhook', async ({ team, ep }, f) => {
    const type = String(f.event_type ?? '');
    const r = await w.test(team.id, ep.id, type || undefined);
    const what = r.error ? `Not delivered: ${r.error}` : `${r.delivered ? 'Delivered' : 'Not delivered'}: the receiver answered HTTP ${r.statusCode} in ${r.durationMs} ms.`;
    const result = html`<section class="notice ${r.delivered ? 'ok' : 'error'}" aria-labelledby="test-result-h"><h2 id="test-result-h">Test event <code>${type}</code></h2>
      <p>${what}</p>${r.excerpt ? html`<p>Response body (start):</p><pre class="payload">${r.excerpt}</pre>` : ''}</section>`;
    return { result, ...(r.delivered ? { ok: what } : { error: what }) };
  });
  action('/recover', 'recoverWebhook', async ({ team, ep }, f) => {
    const since = parseTime(String(f.since ?? '').trim());
    if (!(since instanceof Date)) throw new DraftProblem('Not recovered: give a date and time such as 2026-12-07T09:30 (UTC).', null);
    const n = await w.recover(team.id, ep.id, since);
    return { ok: n === 0 ? `No failed deliveries since ${fmtTime(since)}.` : `${n} failed ${n === 1 ? 'delivery' : 'deliveries'} since ${fmtTime(since)} queued again.` };
  });
}

/** A refused form: its message, and what was typed (to show it again). */
class DraftProblem extends Error {
  constructor(message: string, readonly draft: Extra['draft'] | null) { super(message); }
}

const kitUserUrl = (teamId: string, userId: string) => `${BASE}/t/${teamId}/users/${userId}`;
