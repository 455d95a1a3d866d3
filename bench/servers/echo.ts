// The HTTP-only ceiling: raw node:http answering every request with a small JSON document built
// from the request (method, path, body length). No framework, no database.
//   PORT
import http from 'node:http';

const port = Number(process.env.PORT ?? 8091);
const server = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c: Buffer) => { n += c.length; });
  req.on('end', () => {
    const body = JSON.stringify({ method: req.method, path: req.url, bytes: n });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 72_000;
server.listen(port, '127.0.0.1');
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
