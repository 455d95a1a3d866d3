// Picking the TCP port the embedded server listens on.
import net from 'node:net';

/** A free port on 127.0.0.1: the preferred one if we can bind it, else one the kernel picks. */
export async function pickPort(preferred: number | null): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const srv = net.createServer();
      srv.unref();
      srv.once('error', () => resolve(null));
      srv.listen(port, '127.0.0.1', () => {
        const { port: bound } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(bound));
      });
    });
  if (preferred !== null) {
    const port = await tryListen(preferred);
    if (port !== null) return port;
  }
  const port = await tryListen(0);
  if (port === null) throw new Error('could not find a free TCP port on 127.0.0.1');
  return port;
}
