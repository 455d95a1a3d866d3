// The event catalogue of docs/webhooks.md, rendered from the code (scripts/webhook-docs.ts writes
// it; test/webhooks/docs.test.ts checks the document matches).
import { CATALOGUE, FORMATS } from './events.ts';
import { exampleEvent, renderPayload } from './render.ts';

const TEAM = '6b74423d-0504-4470-9afb-477252ccf67a';
const AT = new Date('2026-11-24T10:00:00.000Z');

export function catalogueMarkdown(): string {
  const out: string[] = [];
  for (const f of FORMATS) {
    out.push(`### \`${f}\``, '', '| event type | Roster domain event | received with `filter_types: null` | what it means |', '|---|---|---|---|');
    for (const e of CATALOGUE[f]) {
      const byDefault = f === 'onvy' ? 'no (onvy endpoints list their events)' : e.documented ? 'yes' : 'no (opt-in extension)';
      out.push(`| \`${e.name}\` | ${e.domain ? `\`${e.domain}\`` : 'never sent'} | ${byDefault} | ${e.description} |`);
    }
    out.push('');
    for (const e of CATALOGUE[f]) {
      if (!e.domain) continue;
      const body = renderPayload(f, exampleEvent(TEAM, e.domain, AT))!;
      out.push(`<details><summary><code>${e.name}</code>${f === 'onvy' ? ` (from <code>${e.domain}</code>; one element of a batch's <code>events</code>)` : ''}</summary>`, '', '```json', JSON.stringify(JSON.parse(body), null, 2), '```', '', '</details>', '');
    }
  }
  return out.join('\n');
}
