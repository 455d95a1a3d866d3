// A webhook receiver for Roster's three formats (docs/webhooks.md), runnable as is:
//
//   npm install svix standardwebhooks
//   JUNCTION_SECRET=whsec_… STANDARD_SECRET=whsec_… ONVY_SECRET=… PORT=3000 node webhook-receiver.mjs
//
// and register http(s)://<this host>:3000/junction, /standard and /onvy as endpoints. Each request
// is verified on its raw body before it is parsed; a failed check answers 400. Answer 2xx only for
// what you accepted: anything else is a failure that Roster retries on its schedule (onvy
// endpoints: 429 and 5xx only). Events are at-least-once and unordered: dedupe on the id.
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as StandardWebhook } from 'standardwebhooks';

const seen = new Set(); // ids already handled (use a database table in production)

/** Junction's handler: svix's Webhook.verify with the endpoint's whsec_ secret. */
function verifyJunction(raw, headers) {
  new SvixWebhook(process.env.JUNCTION_SECRET).verify(raw, headers); // throws when it does not hold
  return { id: headers['svix-id'], events: [JSON.parse(raw)] };
}

/** Standard Webhooks: the standardwebhooks package (±5 min timestamp tolerance). */
function verifyStandard(raw, headers) {
  return { id: headers['webhook-id'], events: [new StandardWebhook(process.env.STANDARD_SECRET).verify(raw, headers)] };
}

/** Onvy's documented check: "sha256=" + hex HMAC-SHA256(secret, raw body), compared in constant time. */
function verifyOnvy(raw, headers) {
  const want = Buffer.from(`sha256=${createHmac('sha256', process.env.ONVY_SECRET).update(raw).digest('hex')}`);
  const got = Buffer.from(String(headers['x-webhook-signature'] ?? ''));
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new Error('bad signature');
  // The signature does not cover the time: also check the Standard Webhooks headers Roster adds
  // (same secret, raw form), which do, so an old request cannot be replayed.
  new StandardWebhook(process.env.ONVY_SECRET, { format: 'raw' }).verify(raw, headers);
  const batch = JSON.parse(raw);
  return { id: batch.id, events: batch.events };
}

const routes = { '/junction': verifyJunction, '/standard': verifyStandard, '/onvy': verifyOnvy };

const server = http.createServer((req, res) => {
  const verify = routes[req.url];
  if (req.method !== 'POST' || !verify) { res.writeHead(404).end(); return; }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    let got;
    try {
      got = verify(raw, req.headers);
    } catch (e) {
      console.log(JSON.stringify({ route: req.url, verified: false, error: e.message }));
      res.writeHead(400).end();
      return;
    }
    if (!seen.has(got.id)) {
      seen.add(got.id);
      for (const ev of got.events) console.log(JSON.stringify({ route: req.url, verified: true, id: got.id, type: ev.event_type ?? ev.type ?? ev.name, event: ev }));
    }
    res.writeHead(204).end();
  });
});
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
