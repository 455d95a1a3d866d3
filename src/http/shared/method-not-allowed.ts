// A face's not-found handler: a path the face knows, asked with a method it does not answer, is a
// 405 with Allow; anything else a 404. Each face renders both in its own shape.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Methods each known path answers (paths relative to the face's prefix). */
export type AllowTable = readonly (readonly [RegExp, string])[];

export function notFoundOr405(app: FastifyInstance, table: AllowTable, render: {
  methodNotAllowed(req: FastifyRequest, reply: FastifyReply, allow: string): unknown;
  notFound(req: FastifyRequest, reply: FastifyReply): unknown;
}) {
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!.slice(app.prefix.length) || '/';
    const known = table.find(([re]) => re.test(path));
    if (!known) return render.notFound(req, reply);
    reply.header('allow', known[1]);
    return render.methodNotAllowed(req, reply, known[1]);
  });
}
