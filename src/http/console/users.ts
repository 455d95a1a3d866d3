// A team's users: one search box, filters, keyset pages with the total; a user's page with its ids on
// every face, records, activity, and the actions (delete, undo, demo connection, deregister, portal
// link and sign-in token shown once). Every change goes through the same domain services as the API.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEMO_PROVIDERS, PROVIDER_SLUGS, type DemoProvider } from '../../domain/providers.ts';
import { parseUuid } from '../../domain/ids.ts';
import { DomainError } from '../../domain/errors.ts';
import { hasForbiddenChars } from '../../domain/text.ts';
import { UNDO_GRACE_MS } from '../../domain/users/model.ts';
import type { ConsoleTeam, UserPage, UserSearch } from '../../domain/console.ts';
import type { Connection, Device } from '../../domain/connections.ts';
import type { Demographics } from '../../domain/demographics.ts';
import type { Insurance } from '../../domain/insurance.ts';
import { html, fmtTime, fmtTotal, raw, type Html } from './html.ts';
import { BASE, csrfField } from './layout.ts';
import { shownOnce } from './teams.ts';
import type { ConsoleKit } from './kit.ts';
import { userDeliveries } from './webhooks/user-deliveries.ts';

export const PAGE_SIZE = 50;

const DONE: Record<string, string> = {
  deleted: 'User deleted. It can be restored here for 7 days.',
  restored: 'User restored.',
  connected: 'Demo connection added.',
  deregistered: 'Provider deregistered.',
};

/** Keyset cursor: the id of the last row of the previous page. */
export function decodeCursor(s: unknown): string | null {
  return typeof s === 'string' ? parseUuid(s) : null;
}

interface ListQuery {
  q: string;
  state: 'live' | 'deleted';
  provider: string;
  errored: boolean;
  order: 'desc' | 'asc';
  after: string;
}

function readQuery(raw: Record<string, unknown>): { q: ListQuery; problem: string | null } {
  const s = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : '');
  let problem: string | null = null;
  let term = s('q').trim();
  if (term.length > 1024 || hasForbiddenChars(term)) {
    problem = 'The search text is too long or holds characters no id can hold.';
    term = '';
  }
  const provider = PROVIDER_SLUGS.includes(s('provider')) ? s('provider') : '';
  return {
    q: { q: term, state: s('state') === 'deleted' ? 'deleted' : 'live', provider, errored: s('errored') === '1', order: s('order') === 'asc' ? 'asc' : 'desc', after: decodeCursor(s('after')) ? s('after') : '' },
    problem,
  };
}

function queryString(q: ListQuery, over: Partial<ListQuery> = {}): string {
  const m = { ...q, ...over };
  const p = new URLSearchParams();
  if (m.q) p.set('q', m.q);
  if (m.state !== 'live') p.set('state', m.state);
  if (m.provider) p.set('provider', m.provider);
  if (m.errored) p.set('errored', '1');
  if (m.order !== 'desc') p.set('order', m.order);
  if (m.after) p.set('after', m.after);
  const s = p.toString();
  return s ? `?${s}` : '';
}

const name = (first: string | null, last: string | null) => [first, last].filter(Boolean).join(' ');

function results(team: ConsoleTeam, q: ListQuery, page: UserPage): Html {
  const usersUrl = `${BASE}/t/${team.id}/users`;
  const total = fmtTotal(page.total);
  const what = q.state === 'deleted' ? 'deleted users awaiting undo' : 'live users';
  return html`<section id="results" aria-labelledby="results-h">
    <h2 id="results-h">${q.q || q.provider || q.errored ? html`${total} matching ${what}` : html`${total} ${what}`}</h2>
    ${page.total.kind === 'exact' ? '' : html`<p class="muted">${page.total.kind === 'estimate' ? 'An estimate from the database\'s statistics' : 'At least this many'}: totals are counted exactly up to 10,000 users (an exact count of a team this size takes longer than a page may).</p>`}
    ${page.rows.length === 0
      ? html`<p>No user matches. ${q.q ? 'The box finds a Junction user_id, a client_user_id (exact or by its start; also the Onvy id), a basic userId or an e-mail.' : ''}</p>`
      : html`<table>
      <caption class="sr-only">Users, ${q.order === 'desc' ? 'newest' : 'oldest'} first</caption>
      <thead><tr><th scope="col">client_user_id (Onvy id)</th><th scope="col">user_id</th><th scope="col">basic userId</th><th scope="col">Name / e-mail</th><th scope="col">Providers</th><th scope="col">${q.state === 'deleted' ? 'Deleted' : 'Created'}</th></tr></thead>
      <tbody>${page.rows.map((u) => html`<tr>
        <td><a href="${usersUrl}/${u.id}">${u.clientUserId}</a></td>
        <td><code>${u.id}</code></td>
        <td>${u.basicId}</td>
        <td>${name(u.firstName, u.lastName)}${u.email ? html`<br><span class="muted">${u.email}</span>` : ''}</td>
        <td>${u.providers.map((p) => html`<span class="badge ${p.status}">${p.provider}${p.status === 'error' ? ' (error)' : ''}</span> `)}</td>
        <td>${fmtTime(q.state === 'deleted' ? u.deletedAt : u.createdAt)}</td>
      </tr>`)}</tbody></table>`}
    <nav class="pager" aria-label="Pages">
      ${q.after ? html`<a href="${usersUrl}${queryString(q, { after: '' })}">First page</a>` : ''}
      ${page.next ? html`<a href="${usersUrl}${queryString(q, { after: page.next })}" rel="next">Next ${PAGE_SIZE} users</a>` : html`<span class="muted">Last page</span>`}
    </nav>
  </section>`;
}

function fact(label: string, value: Html | string | number | null | undefined): Html {
  return html`<dt>${label}</dt><dd>${value === null || value === undefined || value === '' ? html`<span class="muted">—</span>` : value}</dd>`;
}

export function usersRoutes(app: FastifyInstance, kit: ConsoleKit) {
  const { services, reads } = kit.deps;

  app.get('/t/:team/users', async (req, reply) => {
    const team = await kit.team(req, reply);
    if (!team) return reply;
    const { q, problem } = readQuery(req.query as Record<string, unknown>);
    const search: UserSearch = { teamId: team.id, q: q.q || null, state: q.state, provider: q.provider || null, errored: q.errored, order: q.order, after: decodeCursor(q.after), limit: PAGE_SIZE };
    const page = await reads.searchUsers(search);
    const usersUrl = `${BASE}/t/${team.id}/users`;
    const opt = (v: string, label: string, cur: string) => html`<option value="${v}"${v === cur ? raw(' selected') : ''}>${label}</option>`;
    const body = html`
      <form method="get" action="${usersUrl}" role="search" aria-label="Users"
        hx-get="${usersUrl}" hx-trigger="input changed delay:300ms from:#q, change, submit" hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-push-url="true" hx-select-oob="#status:innerHTML">
        <div class="row">
          <div><label for="q">Search users</label>
            <input type="search" id="q" name="q" value="${q.q}" maxlength="1024" autocomplete="off" aria-describedby="q-help"></div>
          <div><label for="state">Show</label><select id="state" name="state">${opt('live', 'Live users', q.state)}${opt('deleted', 'Deleted, awaiting undo', q.state)}</select></div>
          <div><label for="provider">Provider</label><select id="provider" name="provider">${opt('', 'Any provider', q.provider)}${PROVIDER_SLUGS.map((p) => opt(p, p, q.provider))}</select></div>
          <div><label for="order">Order</label><select id="order" name="order">${opt('desc', 'Newest first', q.order)}${opt('asc', 'Oldest first', q.order)}</select></div>
          <div><label><input type="checkbox" name="errored" value="1"${q.errored ? raw(' checked') : ''}> Connection in error</label></div>
          <div><button type="submit">Search</button></div>
        </div>
        <p id="q-help" class="muted">Junction <code>user_id</code>, <code>client_user_id</code> (exact or its start; the same as the Onvy <code>id</code>), basic <code>userId</code>, or e-mail.</p>
      </form>
      ${results(team, q, page)}`;
    const statusText = problem ?? (q.q || q.provider || q.errored || q.state === 'deleted' ? `${fmtTotal(page.total)} ${page.total.n === 1 && page.total.kind === 'exact' ? 'user' : 'users'} found.` : null);
    return kit.page(req, reply, { title: 'Users', team, current: 'users', body, status: statusText ? { text: statusText, kind: problem ? 'error' : 'ok' } : null }, problem ? 400 : 200);
  });

  const userPage = async (req: FastifyRequest, reply: FastifyReply, team: ConsoleTeam, userId: string, extra: { shown?: Html; error?: string } = {}, status = 200) => {
    let user;
    try {
      user = await services.users.requireExisting(team.id, userId);
    } catch (e) {
      kit.problem(e);
      return kit.page(req, reply, { title: 'User not found', team, current: 'users', body: html`<p>No user of this team has this id (or its 7-day undo window has passed). <a href="${BASE}/t/${team.id}/users">All users</a></p>` }, 404);
    }
    const faces = await reads.userFaces(team.id, userId);
    const live = user.deletedAt === null;
    const orNull = async <T>(p: Promise<T>): Promise<T | null> => { try { return await p; } catch (e) { kit.problem(e); return null; } };
    const [connections, devices, demographics, primary, secondary] = await Promise.all([
      live ? orNull(services.connections.connections(team.id, userId)) : Promise.resolve([] as Connection[]),
      live ? orNull(services.connections.devices(team.id, userId)) : Promise.resolve([] as Device[]),
      services.demographics.latestOrNull(team.id, userId),
      live ? orNull(services.insurance.latest(team.id, userId, true)) : Promise.resolve(null),
      live ? orNull(services.insurance.latest(team.id, userId, false)) : Promise.resolve(null),
    ]);
    const ids = [userId, user.clientUserId, ...(faces ? [String(faces.basicId)] : [])];
    const [activity, deliveries] = await Promise.all([
      reads.audit({ teamId: team.id, action: null, keyId: null, userIds: ids, since: null, until: null, after: null, limit: 50 }),
      userDeliveries(services.webhooks, team.id, userId),
    ]);
    const url = `${BASE}/t/${team.id}/users/${userId}`;
    const csrf = csrfField(req.consoleSession?.csrfToken);
    const done = typeof (req.query as Record<string, unknown>).done === 'string' ? DONE[(req.query as Record<string, string>).done!] : undefined;
    const undoUntil = user.deletedAt ? new Date(user.deletedAt.getTime() + UNDO_GRACE_MS) : null;

    const actions = live
      ? html`
        <h2 id="actions-h">Actions</h2>
        <div class="row">
          <form method="post" action="${url}/portal-link">${csrf}<button type="submit" class="secondary">Create portal link</button></form>
          <form method="post" action="${url}/sign-in-token">${csrf}<button type="submit" class="secondary">Create sign-in token</button></form>
        </div>
        ${team.mode === 'sandbox' ? html`
        <form method="post" action="${url}/demo">${csrf}
          <fieldset><legend>Demo connection (sandbox)</legend>
            <div class="row"><div><label for="demo-provider">Provider</label><select id="demo-provider" name="provider">${DEMO_PROVIDERS.map((p) => html`<option value="${p}">${p}</option>`)}</select></div>
            <div><button type="submit">Connect demo provider</button></div></div>
          </fieldset></form>` : ''}
        <form method="post" action="${url}/delete">${csrf}
          <fieldset><legend>Delete this user</legend>
            <p>The user can be restored for 7 days, then it is removed for good. Its connections are dropped now.</p>
            <div class="row"><div><label for="confirm">Type the client_user_id <code>${user.clientUserId}</code> to confirm</label>
              <input type="text" id="confirm" name="confirm" required autocomplete="off"></div>
            <div><button type="submit" class="danger">Delete user</button></div></div>
          </fieldset></form>`
      : html`
        <h2 id="actions-h">Actions</h2>
        <form method="post" action="${url}/undo">${csrf}
          <p>Deleted ${fmtTime(user.deletedAt)}; it can be restored until ${fmtTime(undoUntil)}.</p>
          <button type="submit">Undo delete</button></form>`;

    const body = html`
      ${extra.shown ?? ''}
      <p><a href="${BASE}/t/${team.id}/users">← All users</a></p>
      <h2 id="ids-h">Ids on each face</h2>
      <dl class="facts" aria-labelledby="ids-h">
        ${fact('State', html`<span class="badge ${live ? 'live' : 'deleted'}">${live ? 'live' : 'deleted, awaiting undo'}</span>`)}
        ${fact('Junction user_id', html`<code>${user.id}</code>`)}
        ${fact('Junction client_user_id', html`<code>${user.clientUserId}</code>`)}
        ${fact('Onvy id', html`<code>${user.clientUserId}</code>`)}
        ${fact('basic userId', faces?.basicId)}
        ${fact('Name', faces ? name(faces.firstName, faces.lastName) : null)}
        ${fact('E-mail (basic contactEmail)', faces?.email)}
        ${fact('Created', fmtTime(user.createdAt))}
        ${fact('Updated', fmtTime(user.updatedAt))}
        ${fact('Deleted', user.deletedAt ? fmtTime(user.deletedAt) : null)}
      </dl>
      <h2 id="fallbacks-h">Fallbacks and ingestion</h2>
      <dl class="facts" aria-labelledby="fallbacks-h">
        ${fact('Fallback time zone', user.fallbackTimeZone ? `${user.fallbackTimeZone.value} (${user.fallbackTimeZone.source}, ${fmtTime(user.fallbackTimeZone.updatedAt)})` : null)}
        ${fact('Fallback birth date', user.fallbackBirthDate ? `${user.fallbackBirthDate.value} (${user.fallbackBirthDate.source}, ${fmtTime(user.fallbackBirthDate.updatedAt)})` : null)}
        ${fact('Ingestion start', user.ingestionStart)}
        ${fact('Ingestion end', user.ingestionEnd)}
      </dl>
      ${actions}
      <h2 id="conn-h">Connections</h2>
      ${connections && connections.length
        ? html`<table aria-labelledby="conn-h"><thead><tr><th scope="col">Provider</th><th scope="col">Status</th><th scope="col">Error</th><th scope="col">Connected</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${connections.map((c) => html`<tr><td>${c.provider}${c.demo ? html` <span class="muted">(demo)</span>` : ''}</td><td><span class="badge ${c.status}">${c.status}</span></td>
            <td>${c.error ? `${c.error.type}: ${c.error.message}` : ''}</td><td>${fmtTime(c.createdAt)}</td>
            <td><form method="post" action="${url}/deregister">${csrf}<input type="hidden" name="provider" value="${c.provider}"><button type="submit" class="secondary" aria-label="Deregister ${c.provider}">Deregister</button></form></td></tr>`)}</tbody></table>`
        : html`<p class="muted">No connections.</p>`}
      <h2 id="dev-h">Devices</h2>
      ${devices && devices.length
        ? html`<table aria-labelledby="dev-h"><thead><tr><th scope="col">Provider</th><th scope="col">Source</th><th scope="col">Device</th><th scope="col">Added</th></tr></thead>
          <tbody>${devices.map((d) => html`<tr><td>${d.provider}</td><td>${d.sourceType}</td><td>${[d.manufacturer, d.model].filter(Boolean).join(' ')}${d.deviceId ? html` <code class="muted">${d.deviceId}</code>` : ''}</td><td>${fmtTime(d.createdAt)}</td></tr>`)}</tbody></table>`
        : html`<p class="muted">No devices.</p>`}
      <h2 id="demo-h">Latest demographics</h2>
      ${demographics ? demographicsView(demographics) : html`<p class="muted">None recorded.</p>`}
      <h2 id="ins-h">Latest insurance</h2>
      ${primary || secondary ? html`${primary ? insuranceView('Primary', primary) : ''}${secondary ? insuranceView('Secondary', secondary) : ''}` : html`<p class="muted">None recorded.</p>`}
      <h2 id="act-h">Activity</h2>
      ${activity.entries.length
        ? html`<table aria-labelledby="act-h"><thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Status</th><th scope="col">Key</th><th scope="col">Request</th></tr></thead>
          <tbody>${activity.entries.map((e) => html`<tr><td>${fmtTime(e.at)}</td><td>${e.action}</td><td>${e.status}</td><td>${e.keyId ? html`<code>${e.keyId}</code>` : 'console'}</td><td><code>${e.requestId}</code></td></tr>`)}</tbody></table>
          <p><a href="${BASE}/t/${team.id}/audit?user=${encodeURIComponent(userId)}">All of this user's audit entries</a></p>`
        : html`<p class="muted">No audit entries name this user.</p>`}
      <h2 id="wh-h">Webhook deliveries</h2>
      ${deliveries}`;
    const statusMsg = extra.error ? { text: extra.error, kind: 'error' as const } : done ? { text: done, kind: 'ok' as const } : extra.shown ? { text: 'Created. Copy it now: it is not shown again.', kind: 'ok' as const } : null;
    return kit.page(req, reply, { title: `User ${user.clientUserId}`, team, current: 'users', body, status: statusMsg }, status);
  };

  const target = async (req: FastifyRequest, reply: FastifyReply): Promise<{ team: ConsoleTeam; userId: string } | null> => {
    const t = await kit.teamAndId(req, reply, { param: 'id', what: 'user', current: 'users', back: (teamId) => [`${BASE}/t/${teamId}/users`, 'All users'] });
    return t ? { team: t.team, userId: t.id } : null;
  };

  app.get('/t/:team/users/:id', async (req, reply) => {
    const t = await target(req, reply);
    return t ? userPage(req, reply, t.team, t.userId) : reply;
  });

  /** A user action: run it, audit it, then back to the user's page (or show the error there). */
  const action = (path: string, operation: string, run: (t: { team: ConsoleTeam; userId: string }, f: Record<string, string>, req: FastifyRequest) => Promise<string | Html>) => {
    app.post(`/t/:team/users/:id/${path}`, async (req, reply) => {
      const t = await target(req, reply);
      if (!t) return reply;
      let r: string | Html;
      try {
        r = await run(t, kit.form(req), req);
      } catch (e) {
        const msg = kit.problem(e);
        await kit.audit(req, t.team.id, operation, t.userId, 400);
        return userPage(req, reply, t.team, t.userId, { error: msg }, 400);
      }
      await kit.audit(req, t.team.id, operation, t.userId);
      if (typeof r === 'string') return kit.redirect(reply, `${BASE}/t/${t.team.id}/users/${t.userId}`, r);
      return userPage(req, reply, t.team, t.userId, { shown: r });
    });
  };

  action('delete', 'deleteUser', async ({ team, userId }, f) => {
    const u = await services.users.requireLive(team.id, userId);
    if ((f.confirm ?? '') !== u.clientUserId) throw new DomainError('validation_failed', 'Not deleted: the text typed did not match the client_user_id.');
    await services.users.delete(team.id, userId);
    return 'deleted';
  });
  action('undo', 'undoDeleteUser', async ({ team, userId }) => {
    await services.users.undoDelete({ teamId: team.id, mode: team.mode }, { userId });
    return 'restored';
  });
  action('demo', 'connectDemoProvider', async ({ team, userId }, f) => {
    const provider = (DEMO_PROVIDERS as readonly string[]).includes(f.provider ?? '') ? (f.provider as DemoProvider) : null;
    if (!provider) throw new DomainError('validation_failed', 'Choose one of the demo providers.');
    await services.connections.connectDemo({ teamId: team.id, mode: team.mode }, userId, provider);
    return 'connected';
  });
  action('deregister', 'deregisterProvider', async ({ team, userId }, f) => {
    await services.connections.disconnect(team.id, userId, String(f.provider ?? ''));
    return 'deregistered';
  });
  action('portal-link', 'createPortalUrl', async ({ team, userId }, _f, req) => {
    const r = await services.portal.create(team.id, userId, 'launch', null);
    return shownOnce('portal-link', 'Portal link', kit.baseUrl(req) + r.path, `opens this user's portal page; valid ${Math.round(r.expiresIn / 60)} minutes.`);
  });
  action('sign-in-token', 'getUserSignInToken', async ({ team, userId }, _f, req) => {
    const t = await services.authTokens.issueSignInToken({ teamId: team.id, mode: team.mode }, userId, kit.baseUrl(req));
    return shownOnce('sign-in-token', 'Sign-in token', t.signInToken, `for the mobile SDK; single use, valid until ${fmtTime(t.expiresAt)}.`);
  });
}

function demographicsView(d: Demographics): Html {
  const a = d.address;
  return html`<dl class="facts" aria-labelledby="demo-h">
    ${fact('Name', `${d.first_name} ${d.last_name}`)}
    ${fact('Date of birth', d.dob)}
    ${fact('Gender', d.gender)}
    ${fact('E-mail', d.email)}
    ${fact('Phone', d.phone_number)}
    ${fact('Address', a ? [a.first_line, a.second_line, a.city, a.state, a.zip, a.country].filter(Boolean).join(', ') : null)}
  </dl>`;
}

function insuranceView(label: string, i: Insurance): Html {
  return html`<h3>${label}</h3><dl class="facts">
    ${fact('Payor', i.company?.name ?? i.payor_code)}
    ${fact('Member id', i.member_id)}
    ${fact('Group id', i.group_id)}
    ${fact('Relationship', i.relationship)}
    ${fact('Insured', `${i.insured.first_name} ${i.insured.last_name}`)}
  </dl>`;
}
