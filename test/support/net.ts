// A TCP port on 127.0.0.1 that nothing listens on right now, for the processes tests start
// themselves (PostgreSQL replicas, PgBouncer, HAProxy, Roster instances).
import net from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
