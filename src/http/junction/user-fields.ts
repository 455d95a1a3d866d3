// Junction's names for the user fields the domain reports issues on (the domain names them
// clientUserId, fallbackTimeZone, ...; Junction's bodies say client_user_id, fallback_time_zone, ...).
import { DomainError, validationFailed } from '../../domain/errors.ts';

const WIRE: Readonly<Record<string, string>> = {
  clientUserId: 'client_user_id',
  fallbackTimeZone: 'fallback_time_zone',
  fallbackBirthDate: 'fallback_birth_date',
  ingestionStart: 'ingestion_start',
  ingestionEnd: 'ingestion_end',
};

/** `p`, with a validation failure's issue paths in Junction's names. */
export async function withWireNames<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (!(e instanceof DomainError) || e.code !== 'validation_failed') throw e;
    throw validationFailed(e.issues.map((i) => (typeof i.path[0] === 'string' && Object.hasOwn(WIRE, i.path[0]) ? { ...i, path: [WIRE[i.path[0]]!, ...i.path.slice(1)] } : i)));
  }
}
