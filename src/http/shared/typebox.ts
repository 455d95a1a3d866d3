// What every face's TypeBox code shares: the app type its routes register on, and nullable schemas.
// (Here, not in a face's index.ts, so a face's routes never import the module that imports them.)
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static, type TSchema } from 'typebox';

export type TypeBoxApp = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

/**
 * `schema` or null, as a JSON-Schema type array (null added to an enum too): AJV errors stay flat
 * and the OpenAPI 3.1 document simple (no anyOf branches).
 */
export function Nullable<T extends TSchema>(schema: T) {
  const s = schema as unknown as { type?: string; enum?: unknown[] };
  return Type.Unsafe<Static<T> | null>({
    ...schema,
    type: [s.type ?? 'string', 'null'],
    ...(s.enum ? { enum: [...s.enum, null] } : {}),
  });
}
