// The team's audit trail with filters (action, key, user, time range) and keyset pages.
import type { FastifyInstance } from 'fastify';
import { parseUuid } from '../../domain/ids.ts';
import { hasForbiddenChars } from '../../domain/text.ts';
import { html, fmtTime, parseTime, raw } from './html.ts';
import { BASE } from './layout.ts';
import { decodeCursor } from './users.ts';
import type { ConsoleKit } from './kit.ts';

const PAGE = 50;

export function auditRoutes(app: FastifyInstance, kit: ConsoleKit) {
  const { reads } = kit.deps;
  app.get('/t/:team/audit', async (req, reply) => {
    const team = await kit.team(req, reply);
    if (!team) return reply;
    const q = req.query as Record<string, unknown>;
    const s = (k: string) => (typeof q[k] === 'string' ? (q[k] as string).trim() : '');
    const problems: string[] = [];
    const action = s('action');
    const keyRaw = s('key');
    const keyId = keyRaw ? parseUuid(keyRaw) : null;
    if (keyRaw && !keyId) problems.push('The key filter must be a key id (a UUID).');
    let user = s('user');
    if (user.length > 1024 || hasForbiddenChars(user)) { problems.push('The user filter is too long or holds characters no id can hold.'); user = ''; }
    const since = parseTime(s('since'));
    const until = parseTime(s('until'));
    if (since === 'bad' || until === 'bad') problems.push('Times must be dates and times such as 2026-12-07T09:30 (UTC).');
    const actions = await reads.auditActions(team.id);
    const validAction = action && (actions.includes(action) || /^[\w.:-]{1,200}$/.test(action)) ? action : null;
    const r = await reads.audit({
      teamId: team.id, action: validAction, keyId, userIds: user ? [parseUuid(user) ?? user] : null,
      since: since instanceof Date ? since : null, until: until instanceof Date ? until : null, after: decodeCursor(s('after')), limit: PAGE,
    });
    const url = `${BASE}/t/${team.id}/audit`;
    const keep = new URLSearchParams();
    for (const k of ['action', 'key', 'user', 'since', 'until']) if (s(k)) keep.set(k, s(k));
    const nextQs = r.next ? (() => { const p = new URLSearchParams(keep); p.set('after', r.next!); return `?${p}`; })() : null;
    const body = html`
      <form method="get" action="${url}" aria-label="Filter the audit trail">
        <div class="row">
          <div><label for="f-action">Action</label><select id="f-action" name="action"><option value="">Any action</option>${actions.map((a) => html`<option value="${a}"${a === action ? raw(' selected') : ''}>${a}</option>`)}</select></div>
          <div><label for="f-user">User id</label><input type="text" id="f-user" name="user" value="${user}"></div>
          <div><label for="f-key">Key id</label><input type="text" id="f-key" name="key" value="${keyRaw}"></div>
          <div><label for="f-since">From (UTC)</label><input type="datetime-local" id="f-since" name="since" value="${s('since')}"></div>
          <div><label for="f-until">Until (UTC)</label><input type="datetime-local" id="f-until" name="until" value="${s('until')}"></div>
          <div><button type="submit">Filter</button></div>
        </div>
      </form>
      ${r.entries.length
        ? html`<table><caption class="sr-only">Audit entries, newest first</caption>
          <thead><tr><th scope="col">When (UTC)</th><th scope="col">Action</th><th scope="col">User</th><th scope="col">Key</th><th scope="col">Status</th><th scope="col">Request id</th></tr></thead>
          <tbody>${r.entries.map((e) => html`<tr><td>${fmtTime(e.at)}</td><td>${e.action}</td>
            <td>${e.userId ? (parseUuid(e.userId) ? html`<a href="${BASE}/t/${team.id}/users/${parseUuid(e.userId)!}">${e.userId}</a>` : e.userId) : ''}</td>
            <td>${e.keyId ? html`<code>${e.keyId}</code>` : 'console'}</td><td>${e.status}</td><td><code>${e.requestId}</code></td></tr>`)}</tbody></table>`
        : html`<p>No audit entries match.</p>`}
      <nav class="pager" aria-label="Pages">
        ${s('after') ? html`<a href="${url}${keep.size ? `?${keep}` : ''}">Newest entries</a>` : ''}
        ${nextQs ? html`<a href="${url}${nextQs}" rel="next">Older entries</a>` : html`<span class="muted">No older entries</span>`}
      </nav>`;
    return kit.page(req, reply, { title: 'Audit trail', team, current: 'audit', body, status: problems.length ? { text: problems.join(' '), kind: 'error' } : null }, problems.length ? 400 : 200);
  });
}
