// Custom headers of an endpoint (§7): what is never shown back. A header whose name says it carries
// a credential (a receiver behind a gateway: Authorization, X-Api-Key, …) is shown masked by the
// admin API and the console; the console's form sends the mask back for a value left unchanged.
const SENSITIVE = /(authorization|token|key|secret|cookie|password|signature)/i;
export const HEADER_MASK = '********';

export const isSensitiveHeader = (name: string): boolean => SENSITIVE.test(name);

/** The headers as they may be shown: credential-like values masked. */
export const maskedHeaders = (h: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, isSensitiveHeader(k) ? HEADER_MASK : v]));

/**
 * Headers edited from a masked copy: a sensitive header whose value came back as the mask keeps its
 * stored value (matched by name, case-insensitively); a mask for a header that has no stored value is
 * taken as typed (and refused by nothing: it is a plain value).
 */
export function unmaskHeaders(edited: Record<string, string>, stored: Record<string, string>): Record<string, string> {
  const byLower = new Map(Object.entries(stored).map(([k, v]) => [k.toLowerCase(), v]));
  return Object.fromEntries(Object.entries(edited).map(([k, v]) => [k, v === HEADER_MASK && isSensitiveHeader(k) && byLower.has(k.toLowerCase()) ? byLower.get(k.toLowerCase())! : v]));
}
