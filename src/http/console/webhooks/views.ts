// What the webhook pages share: their addresses, state and status badges, the event-type choices
// (checkboxes from the catalogue) and reading the forms back. No page handlers here.
import { CATALOGUE, FORMATS, type WebhookFormat } from '../../../domain/webhooks/events.ts';
import type { Delivery, Endpoint } from '../../../domain/webhooks/ports.ts';
import { html, raw, type Html } from '../html.ts';
import { BASE } from '../layout.ts';

export const webhooksUrl = (teamId: string): string => `${BASE}/t/${teamId}/webhooks`;
export const endpointUrl = (teamId: string, id: string): string => `${webhooksUrl(teamId)}/${id}`;
export const deliveryUrl = (teamId: string, id: string): string => `${webhooksUrl(teamId)}/deliveries/${id}`;

export const FORMAT_LABEL: Record<WebhookFormat, string> = {
  junction: 'Junction (Svix signatures)',
  standard: 'Standard Webhooks',
  onvy: 'Onvy (batched)',
};

const REASON: Record<string, string> = {
  manual: 'disabled',
  failing: 'auto-disabled: only failures for 5 days',
  gone: 'auto-disabled: the receiver answered 410 Gone',
};

/** enabled / disabled / auto-disabled (with why). */
export function endpointState(ep: Endpoint): Html {
  if (!ep.disabled) return html`<span class="badge enabled">enabled</span>`;
  return html`<span class="badge disabled">${REASON[ep.disabledReason ?? 'manual'] ?? `disabled (${ep.disabledReason})`}</span>`;
}

export function deliveryStatus(d: Pick<Delivery, 'status'>): Html {
  return html`<span class="badge ${d.status}">${d.status}</span>`;
}

export const DELIVERY_STATUSES = ['pending', 'sending', 'success', 'failed', 'cancelled'] as const;

/** The checkbox name of one event type of one format. */
const choiceName = (format: WebhookFormat, name: string) => `ev:${format}:${name}`;

/**
 * The event-type filter: one checkbox per catalogued type of the format. None ticked = no filter
 * (junction: Junction's own events; extension events are opt-in; onvy must list its events).
 */
export function eventChoices(format: WebhookFormat, selected: readonly string[] | null, legend: string): Html {
  const id = `ev-${format}`;
  return html`<fieldset aria-describedby="${id}-help"><legend>${legend}</legend>
    <div class="checks">${CATALOGUE[format].map((e, i) => html`<label for="${id}-${i}"><input type="checkbox" id="${id}-${i}" name="${choiceName(format, e.name)}" value="1"${selected?.includes(e.name) ? raw(' checked') : ''}>
      <code>${e.name}</code>${e.domain === null ? html` <span class="muted">(never sent by Roster)</span>` : format === 'junction' && !e.documented ? html` <span class="muted">(Roster extension)</span>` : ''}</label>`)}</div>
    <p id="${id}-help" class="muted">${format === 'onvy'
      ? 'An Onvy endpoint must tick the events it wants.'
      : format === 'junction'
        ? 'None ticked: every event Junction itself sends. Roster\'s extension events are sent only when ticked.'
        : 'None ticked: every event.'}</p>
  </fieldset>`;
}

/** The ticked event types of `format`; null when none (no filter). */
export function readFilter(form: Record<string, string>, format: WebhookFormat): string[] | null {
  const prefix = `ev:${format}:`;
  const names = Object.keys(form).filter((k) => k.startsWith(prefix) && form[k] === '1').map((k) => k.slice(prefix.length));
  return names.length ? names : null;
}

export const isFormat = (s: unknown): s is WebhookFormat => typeof s === 'string' && (FORMATS as readonly string[]).includes(s);

/** The form's rate limit: null when empty (no limit), 'bad' when not a whole number 1–100,000. */
export function readRateLimit(raw: string | undefined): number | null | 'bad' {
  const s = (raw ?? '').trim();
  if (s === '') return null;
  if (!/^\d{1,6}$/.test(s)) return 'bad';
  const n = Number(s);
  return n >= 1 && n <= 100_000 ? n : 'bad';
}

export const RATE_LIMIT_PROBLEM = 'The rate limit must be a whole number of deliveries per second from 1 to 100,000, or empty for none.';
