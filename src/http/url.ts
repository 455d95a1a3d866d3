// Request URLs whose path is not valid percent-encoded UTF-8 (a lone surrogate such as %ED%A0%80,
// a truncated sequence, a stray `%`) cannot be routed as sent. Like Starlette (which Junction runs
// on), decode such bytes leniently: each invalid sequence becomes U+FFFD, so the route still
// answers with its own error (422 on UUID paths, 404 on lookups) instead of a framework 400.

const decoder = new TextDecoder('utf-8', { fatal: false });

/** `url` unchanged when its path decodes; otherwise the path with invalid sequences as U+FFFD. */
export function sanitizePathEncoding(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (!path.includes('%')) return url;
  try {
    decodeURIComponent(path);
    return url;
  } catch {
    // fall through: repair below
  }
  const fixed = path
    .replace(/%(?![0-9a-fA-F]{2})/g, '%25')
    .replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => encodeURIComponent(decoder.decode(Buffer.from(run.replace(/%/g, ''), 'hex'))));
  return q < 0 ? fixed : fixed + url.slice(q);
}
