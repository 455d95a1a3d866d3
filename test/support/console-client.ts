// A browser-like HTTP client for the console's tests: keeps the session cookie, sends same-origin
// Fetch Metadata on changes, reads the CSRF token from a page's form.
import assert from 'node:assert/strict';

const BASE = '/admin/console';

export interface Res { status: number; headers: Headers; text: string }

/** A browser-like client: keeps the session cookie, sends same-origin Fetch Metadata on changes. */
export class ConsoleClient {
  cookie = '';
  constructor(readonly base: string, readonly token: string) {}
  async req(method: string, path: string, o: { form?: Record<string, string>; headers?: Record<string, string>; site?: string | null } = {}): Promise<Res> {
    const headers: Record<string, string> = { accept: 'text/html', ...(o.headers ?? {}) };
    if (this.cookie) headers.cookie = this.cookie;
    if (method !== 'GET' && o.site !== null) headers['sec-fetch-site'] = o.site ?? 'same-origin';
    const init: RequestInit = { method, headers, redirect: 'manual' };
    if (o.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      init.body = new URLSearchParams(o.form).toString();
    }
    const r = await fetch(this.base + path, init);
    const set = r.headers.get('set-cookie');
    if (set) {
      const [pair] = set.split(';');
      this.cookie = pair!.endsWith('=') ? '' : pair!;
    }
    return { status: r.status, headers: r.headers, text: await r.text() };
  }
  get(path: string) { return this.req('GET', path); }
  post(path: string, form: Record<string, string>, o: { headers?: Record<string, string>; site?: string | null } = {}) { return this.req('POST', path, { form, ...o }); }
  async csrf(path = `${BASE}/`): Promise<string> {
    const r = await this.get(path);
    const m = /name="_csrf" value="([^"]+)"/.exec(r.text);
    assert.ok(m, `no CSRF field on ${path}: ${r.status} ${r.text.slice(0, 300)}`);
    return m[1]!;
  }
  async signIn(token = this.token): Promise<Res> {
    return this.post(`${BASE}/login`, { token, next: `${BASE}/` });
  }
}

