// What every face's authentication shares: which methods write (a read-only key may not use them).
export const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
