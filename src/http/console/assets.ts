// The console's static files: one CSS file, htmx (pinned, handed in by the composition root from the
// build) and a small script of our own (copy buttons). Served from /admin/console/assets/ under
// names holding their content hash, so they can be cached for ever; pages carry no inline script or
// style (the console's CSP allows 'self' only).
import { createHash } from 'node:crypto';

export const CONSOLE_CSS = `
:root { --fg: #1b1f24; --muted: #4f5964; --bg: #fff; --line: #d0d7de; --accent: #0b5cad; --danger: #b3261e; --ok: #116329; --warn-bg: #fff8c5; --focus: #e36209; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, textarea:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; top: 0; background: #fff; padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: .5rem; }
header.top { display: flex; flex-wrap: wrap; gap: .75rem 1.5rem; align-items: center; padding: .6rem 1.25rem; border-bottom: 1px solid var(--line); background: #f6f8fa; }
header.top .brand { font-weight: 700; font-size: 1.1rem; color: var(--fg); text-decoration: none; }
header.top nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
header.top nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
header.top form { margin: 0; display: flex; gap: .4rem; align-items: center; }
header.top .spacer { flex: 1; }
main { padding: 1rem 1.25rem 3rem; max-width: 72rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td code, dd code { word-break: break-all; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: .5rem 0; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; }
form.inline { display: inline; }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: .75rem 0; padding: .5rem 1rem 1rem; }
legend { font-weight: 600; padding: 0 .25rem; }
label { font-weight: 600; display: inline-block; margin: .25rem .5rem .25rem 0; }
input[type=text], input[type=search], input[type=password], input[type=number], input[type=datetime-local], select { font: inherit; padding: .35rem .5rem; border: 1px solid #8c959f; border-radius: 4px; min-width: 12rem; max-width: 100%; }
input[type=search] { min-width: 22rem; }
button { font: inherit; padding: .35rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); }
.row { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; }
.row > div { display: flex; flex-direction: column; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .85em; border: 1px solid var(--line); }
.badge.error, .badge.deleted, .badge.revoked { border-color: var(--danger); color: var(--danger); }
.badge.connected, .badge.live, .badge.active { border-color: var(--ok); color: var(--ok); }
.notice { padding: .6rem .9rem; border-radius: 6px; border: 1px solid var(--line); margin: .75rem 0; }
.notice.error { border-color: var(--danger); color: var(--danger); background: #fff5f5; }
.notice.ok { border-color: var(--ok); background: #f0fff4; }
.secret { background: var(--warn-bg); border: 1px solid #d4a72c; padding: .75rem 1rem; border-radius: 6px; margin: .75rem 0; }
.secret code { font-size: 1rem; word-break: break-all; }
#status:empty { display: none; }
.pager { display: flex; gap: 1rem; align-items: center; margin: .75rem 0; }
.login { max-width: 28rem; margin: 3rem auto; padding: 0 1rem; }
.login input[type=password] { width: 100%; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
label.choice { font-weight: 400; margin-right: 1rem; }
.checks { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: .1rem 1rem; }
.checks label { font-weight: 400; }
.checks .muted { font-size: .85em; }
input[type=url] { font: inherit; padding: .35rem .5rem; border: 1px solid #8c959f; border-radius: 4px; min-width: 26rem; max-width: 100%; }
pre.payload { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: .75rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; max-height: 32rem; }
.badge.success, .badge.enabled { border-color: var(--ok); color: var(--ok); }
.badge.failed, .badge.disabled, .badge.cancelled { border-color: var(--danger); color: var(--danger); }
.actions { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; }
.actions form { margin: 0; }
@media (max-width: 40rem) { input[type=search] { min-width: 0; width: 100%; } }
`;

/** Copy buttons: `<button data-copy="#id">` copies that element's text. Nothing else. */
export const CONSOLE_JS = `document.addEventListener('click', function (e) {
  var b = e.target.closest && e.target.closest('button[data-copy]');
  if (!b) return;
  var el = document.querySelector(b.getAttribute('data-copy'));
  var status = document.getElementById('status');
  if (!el || !navigator.clipboard) { if (status) status.textContent = 'Select the text and copy it.'; return; }
  navigator.clipboard.writeText(el.textContent.trim()).then(function () {
    if (status) status.textContent = 'Copied to the clipboard.';
  }, function () { if (status) status.textContent = 'Could not copy: select the text and copy it.'; });
});
`;

export interface Asset {
  path: string;
  type: string;
  body: Buffer;
}

function asset(name: string, ext: string, type: string, body: Buffer): Asset {
  const h = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { path: `/admin/console/assets/${name}-${h}.${ext}`, type, body };
}

export interface ConsoleAssets {
  css: Asset;
  js: Asset;
  htmx: Asset;
}

export function consoleAssets(htmx: Buffer): ConsoleAssets {
  return {
    css: asset('console', 'css', 'text/css; charset=utf-8', Buffer.from(CONSOLE_CSS)),
    js: asset('console', 'js', 'text/javascript; charset=utf-8', Buffer.from(CONSOLE_JS)),
    htmx: asset('htmx', 'min.js', 'text/javascript; charset=utf-8', htmx),
  };
}
