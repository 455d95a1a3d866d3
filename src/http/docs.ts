// Interactive API reference pages: /docs lists the faces, /docs/{face} is Swagger UI over that
// face's OpenAPI document. Everything is served from npm packages (@fastify/swagger-ui ships
// swagger-ui-dist's files): no CDN, the page works with no internet. The pages get their own CSP
// (scripts, styles and XHR from 'self' only) instead of the API's `default-src 'none'`.
import type { FastifyInstance } from 'fastify';
import type { FaceDoc, FaceName, OpenApiDocs } from './openapi.ts';

export interface DocsOptions {
  docs: OpenApiDocs;
  /** ROSTER_PUBLIC_URL: "try it" calls go there, so it is allowed as a connect-src. */
  publicUrl: string | null;
}

const LABELS: Record<FaceName, string> = {
  junction: 'Junction v2 Users API',
  onvy: 'Onvy Users API',
  basic: 'Basic Users API',
  admin: 'Admin API',
};

/** sha256 of `.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}` (swagger-ui 5). */
const SWAGGER_LOGO_STYLE_HASH = 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=';

export function docsCsp(publicUrl: string | null): string {
  const origin = publicUrl ? ` ${new URL(publicUrl).origin}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    // The hash: the <style> inside Swagger UI's own top-bar logo SVG, shown until ours replaces it.
    `style-src 'self' '${SWAGGER_LOGO_STYLE_HASH}'`,
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${origin}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40"><rect x="2" y="6" width="28" height="28" rx="6" fill="#89bf04"/><path d="M10 14h12M10 20h12M10 26h8" stroke="#fff" stroke-width="3" stroke-linecap="round"/><text x="38" y="27" font-family="sans-serif" font-size="20" font-weight="700" fill="#fff">Roster</text></svg>';

export async function docsPages(app: FastifyInstance, o: DocsOptions) {
  const csp = docsCsp(o.publicUrl);
  // Loaded here, not at import time: @fastify/static 10.1.4+ requires an ES module
  // (content-disposition 3), which Node before 20.19 cannot require(). There the API still
  // starts; only the reference pages are missing (the OpenAPI documents are still served).
  let swaggerUi: typeof import('@fastify/swagger-ui').default;
  try {
    swaggerUi = (await import('@fastify/swagger-ui')).default;
  } catch (e) {
    app.log.warn({ err: (e as Error).message }, 'API reference pages unavailable (needs Node 20.19 or later); /openapi/*.json still served');
    return;
  }
  for (const { name: face } of o.docs.faces) {
    await app.register(async (scope) => {
      await scope.register(swaggerUi, {
        routePrefix: `/docs/${face}`,
        staticCSP: csp,
        // The root swagger instance holds every face; this page shows its own face's slice.
        transformSpecification: () => o.docs.document(face),
        transformSpecificationClone: false,
        theme: { title: `Roster — ${LABELS[face]}` },
        logo: { type: 'image/svg+xml', content: Buffer.from(LOGO_SVG), href: '/docs', target: '_self' },
        uiConfig: {
          deepLinking: true,
          docExpansion: 'list',
          defaultModelsExpandDepth: 0,
          displayOperationId: true,
          displayRequestDuration: true,
          tryItOutEnabled: false,
          persistAuthorization: false,
        },
      });
    });
  }

  const index = indexPage(o.docs.faces);
  app.get('/docs', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-security-policy', csp);
    reply.header('cache-control', 'no-cache');
    return reply.type('text/html; charset=utf-8').send(index);
  });
  app.get('/docs/index.css', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return reply.type('text/css; charset=utf-8').send(INDEX_CSS);
  });
}

function indexPage(faces: readonly FaceDoc[]): string {
  const items = faces.map((d) => {
    const f = d.name;
    return `<li><a href="/docs/${f}">${LABELS[f]}</a><p>${escapeHtml(d.description)}</p><p class="meta">Mounted at <code>${d.prefix || '/'}</code> · OpenAPI: <a href="/openapi/${f}.json">/openapi/${f}.json</a></p></li>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Roster — API reference</title>
<link rel="stylesheet" href="/docs/index.css">
<link rel="icon" href="data:,">
</head>
<body>
<main>
<h1>Roster API reference</h1>
<p>Each API face Roster speaks, with an interactive reference (try calls against this server with your key) and its OpenAPI 3.1 document.</p>
<ul>
${items}
</ul>
</main>
</body>
</html>
`;
}

/** HTML-escaped; `code` spans become <code>. */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`).replace(/`([^`]+)`/g, '<code>$1</code>');
}

const INDEX_CSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#fafafa;color:#3b4151}
main{max-width:760px;margin:40px auto;padding:0 20px}
h1{font-size:28px;margin-bottom:8px}
ul{list-style:none;padding:0}
li{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:14px 18px;margin:12px 0}
li>a{font-size:18px;font-weight:600;color:#4990e2;text-decoration:none}
li p{margin:6px 0 0}
.meta{font-size:13px;color:#6b6b6b}
code{font-family:ui-monospace,monospace;background:#f0f0f0;padding:0 4px;border-radius:3px}
`;
