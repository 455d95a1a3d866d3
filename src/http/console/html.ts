// Templates are small functions returning Html. Every interpolated value is escaped unless it is
// itself Html (made by `html` or `raw`): the one escaping rule of the console.

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ESC[c]!);

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

function render(v: Part): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return esc(String(v));
}

/** Tagged template: `html\`<p>${name}</p>\`` escapes `name`; nested Html (and arrays of it) pass through. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Trusted markup (built here, never from input). */
export const raw = (s: string): Html => new Html(s);

export const fmtTime = (d: Date | null | undefined): string => (d ? d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z') : '—');

export const fmtCount = (n: number): string => n.toLocaleString('en-US');

/** A page count: exact, "about N" (estimated) or "N+" (at least). */
export const fmtTotal = (c: { n: number; kind: 'exact' | 'estimate' | 'atLeast' }): string =>
  c.kind === 'estimate' ? `about ${fmtCount(c.n)}` : c.kind === 'atLeast' ? `${fmtCount(c.n)}+` : fmtCount(c.n);

/** `YYYY-MM-DDTHH:MM` (datetime-local, read as UTC) or a full ISO time; null when empty, 'bad' when invalid. */
export function parseTime(s: string): Date | null | 'bad' {
  if (!s) return null;
  const d = new Date(/Z|[+-]\d\d:\d\d$/.test(s) ? s : `${s}Z`);
  return Number.isNaN(d.getTime()) ? 'bad' : d;
}

/** A time as a datetime-local value in UTC (`YYYY-MM-DDTHH:MM`). */
export const toLocalInput = (d: Date): string => d.toISOString().slice(0, 16);
