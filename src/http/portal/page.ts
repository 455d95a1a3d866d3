// Server-rendered HTML of the user portal: the user's own records, read-only, readable on a phone.
// Everything user-supplied goes through esc(); the page loads nothing from elsewhere.
import type { User } from '../../domain/users/model.ts';
import type { Connection, Device } from '../../domain/connections.ts';
import type { Demographics } from '../../domain/demographics.ts';
import { providerInfo } from '../../domain/providers.ts';

const esc = (s: unknown): string =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1c2430;background:#f4f6f9}
main{max-width:640px;margin:0 auto;padding:16px}
header{background:#0f3d5e;color:#fff;padding:20px 16px}header h1{margin:0;font-size:1.4rem}header p{margin:4px 0 0;opacity:.85;font-size:.9rem}
section{background:#fff;border-radius:12px;padding:16px;margin:12px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:1.05rem;margin:0 0 8px}dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0}dt{color:#5b6675}dd{margin:0;word-break:break-word}
ul{list-style:none;padding:0;margin:0}li{padding:8px 0;border-top:1px solid #eef1f5}li:first-child{border-top:0}
.tag{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.8rem;background:#e3f4e8;color:#1d6b35}.tag.paused,.tag.error{background:#fdecea;color:#9b2c20}
section>p:first-child{margin-top:0}section>p:last-child{margin-bottom:0}
.muted{color:#5b6675}footer{text-align:center;color:#5b6675;font-size:.8rem;padding:16px}
`;

function shell(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<meta name="robots" content="noindex"><title>${esc(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

/** "Fitbit Charge 6", but "Oura Ring Gen3" rather than "Oura Oura Ring Gen3". */
function deviceName(x: Device): string {
  const { manufacturer: m, model } = x;
  if (m && model && model.toLowerCase().startsWith(m.toLowerCase())) return model;
  return [m, model].filter(Boolean).join(' ') || providerInfo(x.provider).name;
}

export interface PortalView {
  user: User;
  demographics: Demographics | null;
  connections: Connection[];
  devices: Device[];
  expiresAt: Date;
}

export function portalPage(v: PortalView): string {
  const d = v.demographics;
  const name = d ? `${d.first_name} ${d.last_name}` : v.user.clientUserId;
  const a = d?.address;
  const demographics = d ? `<dl>
    <dt>Name</dt><dd>${esc(name)}</dd>
    <dt>Date of birth</dt><dd>${esc(d.dob)}</dd>
    <dt>Gender</dt><dd>${esc(d.gender)}</dd>
    <dt>E-mail</dt><dd>${esc(d.email)}</dd>
    <dt>Phone</dt><dd>${esc(d.phone_number)}</dd>
    <dt>Address</dt><dd>${esc([a?.first_line, a?.second_line, a?.city, a?.state, a?.zip, a?.country].filter(Boolean).join(', '))}</dd>
  </dl>` : '<p class="muted">No details on file.</p>';
  const conns = v.connections.length
    ? `<ul>${v.connections.map((c) => `<li><strong>${esc(providerInfo(c.provider).name)}</strong> <span class="tag ${esc(c.status)}">${esc(c.status)}</span><br><span class="muted">since ${esc(c.createdAt.toISOString().slice(0, 10))} · ${esc(Object.keys(c.resources).sort().join(', '))}</span></li>`).join('')}</ul>`
    : '<p class="muted">No connected sources.</p>';
  const devs = v.devices.length
    ? `<ul>${v.devices.map((x) => `<li><strong>${esc(deviceName(x))}</strong><br><span class="muted">${esc(providerInfo(x.provider).name)} · ${esc(x.sourceType)}</span></li>`).join('')}</ul>`
    : '<p class="muted">No devices.</p>';
  return shell(`${name} · Your health data portal`, `<header><h1>${esc(name)}</h1><p>Your health data portal</p></header><main>
    <section id="demographics"><h2>Your details</h2>${demographics}</section>
    <section id="connections"><h2>Connected sources</h2>${conns}</section>
    <section id="devices"><h2>Devices</h2>${devs}</section>
  </main><footer>Read-only view · this link expires ${esc(v.expiresAt.toISOString().replace('T', ' ').slice(0, 16))} UTC</footer>`);
}

export function errorPage(title: string, message: string): string {
  return shell(title, `<header><h1>${esc(title)}</h1></header><main><section><p>${esc(message)}</p>`
    + `<p class="muted">Ask the app that sent you this link for a new one.</p></section></main>`);
}
