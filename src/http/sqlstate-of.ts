// The SQLSTATE of a pg error (or undefined): http code must not import the store's list.
export const sqlStateOf = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && /^[0-9A-Z]{5}$/.test((e as { code: string }).code) ? (e as { code: string }).code : undefined;
