// The page shell every console page shares: title, one h1, skip link, navigation with the team
// switcher and sign-out, the status live region, and the assets (no inline script or style).
import { html, raw, type Html } from './html.ts';
import type { ConsoleAssets } from './assets.ts';

export const BASE = '/admin/console';

/** A team-scoped section of the console (users, keys, audit, settings, and later webhooks). */
export interface NavItem {
  /** Path under /admin/console/t/{team}/, e.g. 'users'. */
  path: string;
  label: string;
}

export interface ShellTeam {
  id: string;
  name: string;
  mode: string;
}

export interface PageInput {
  title: string;
  /** The page's one h1; defaults to the title. */
  h1?: string;
  body: Html;
  /** Present once signed in: the CSRF token for forms and htmx. */
  csrf?: string;
  team?: ShellTeam | null;
  teams?: ShellTeam[];
  /** Which nav item is current ('teams' or a NavItem path). */
  current?: string;
  /** A message for the status live region (announced to screen readers). */
  status?: { text: string; kind: 'ok' | 'error' } | null;
}

export const HTMX_CONFIG = JSON.stringify({ allowEval: false, allowScriptTags: false, includeIndicatorStyles: false, historyCacheSize: 0, selfRequestsOnly: true, refreshOnHistoryMiss: true });

export function csrfField(csrf: string | undefined): Html {
  return csrf ? html`<input type="hidden" name="_csrf" value="${csrf}">` : raw('');
}

export function shell(assets: ConsoleAssets, nav: NavItem[], p: PageInput): string {
  const signedIn = p.csrf !== undefined;
  const team = p.team ?? null;
  const navLinks = signedIn
    ? html`<nav aria-label="Console"><ul>
        <li><a href="${BASE}/"${p.current === 'teams' ? raw(' aria-current="page"') : ''}>Teams</a></li>
        ${team ? nav.map((n) => html`<li><a href="${BASE}/t/${team.id}/${n.path}"${p.current === n.path ? raw(' aria-current="page"') : ''}>${n.label}</a></li>`) : ''}
      </ul></nav>`
    : '';
  const switcher = signedIn && p.teams && p.teams.length
    ? html`<form method="get" action="${BASE}/switch" class="switch">
        <label for="team-switch">Team</label>
        <select id="team-switch" name="team">${p.teams.map((t) => html`<option value="${t.id}"${team?.id === t.id ? raw(' selected') : ''}>${t.name} (${t.mode})</option>`)}</select>
        <button type="submit" class="secondary">Go</button>
      </form>`
    : '';
  const signOut = signedIn
    ? html`<form method="post" action="${BASE}/logout">${csrfField(p.csrf)}<button type="submit" class="secondary">Sign out</button></form>`
    : '';
  const status = p.status ? html`<p class="notice ${p.status.kind}">${p.status.text}</p>` : '';
  const title = team ? `${p.title} · ${team.name} · Roster console` : `${p.title} · Roster console`;
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="htmx-config" content="${HTMX_CONFIG}">
<title>${title}</title>
<link rel="stylesheet" href="${assets.css.path}">
<script src="${assets.htmx.path}" defer></script>
<script src="${assets.js.path}" defer></script>
</head>
<body${signedIn ? html` hx-headers="${JSON.stringify({ 'X-CSRF-Token': p.csrf })}"` : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="${BASE}/">Roster console</a>
  ${navLinks}
  <span class="spacer"></span>
  ${switcher}
  ${signOut}
</header>
<main id="main" tabindex="-1">
<h1>${p.h1 ?? p.title}</h1>
<div id="status" role="status" aria-live="polite">${status}</div>
${p.body}
</main>
</body>
</html>
`;
  return doc.value;
}
