/**
 * The rehearsal's port. The tool picks a free loopback port, closes it and hands it to the candidate as `{port}`:
 * until the candidate binds it, any local account may take it (the port shows in the candidate's command line), and
 * answer its health probes. Verification judges only the candidate's own listener (service/listener-owner.ts); a
 * port found held by another process is not the candidate's failure, and the rehearsal takes another port, up to
 * PORT_TRIES times, before it refuses with PORT_TAKEN naming the holder.
 */
import net from 'node:net';
import { portHolders } from '../service/listener-owner.js';

/** How many ports one rehearsal tries before it gives up (each try a fresh random port from the kernel). */
export const PORT_TRIES = 3;
/** How many ports the kernel offers at most before one is found that nobody listens on, on any address. */
const PICKS = 10;

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      // 18789 is the real openclaw gateway's port: never rehearse on it, even when the kernel offers it.
      server.close(() => (port === 18789 ? freeLoopbackPort().then(resolve, reject) : resolve(port)));
    });
  });
}

/**
 * A loopback port free on 127.0.0.1 and with no listener on any other address either (a candidate that binds `::`
 * or `0.0.0.0` would clash with one on [::1]); a port the kernel cannot give (EADDRINUSE, a full ephemeral range)
 * is asked again, PICKS times at most.
 */
export async function freeRehearsalPort(): Promise<number> {
  let last: unknown;
  for (let pick = 0; pick < PICKS; pick++) {
    const port = await freeLoopbackPort().catch((error: unknown) => {
      last = error;
      return null;
    });
    if (port === null) continue;
    const held = await portHolders(port);
    if (held === null || held.length === 0) return port;
    last = new Error(held.join('; '));
  }
  throw new Error(`no free loopback port for the rehearsal after ${PICKS} picks: ${(last as Error)?.message}`);
}
