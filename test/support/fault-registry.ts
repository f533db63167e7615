// A one-package registry on node:http for the faults Verdaccio cannot produce. Not a stand-in for the real one.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * - `ok`: serves everything correctly (to deliver a hostile tarball with a matching integrity)
 * - `wrong-integrity`: the packument's `dist.integrity` is not the tarball's
 * - `truncated`: the tarball response announces its full Content-Length, sends half, then drops the socket
 * - `status-500`: every request, packument and tarball, gets a 500
 * - `stall-packument`, `stall-tarball`: that response's headers, then nothing (the socket stays open)
 * - `trickle-tarball`: the tarball's headers, then one byte every `trickleMs`, for ever
 */
export type FaultMode =
  | 'ok'
  | 'wrong-integrity'
  | 'truncated'
  | 'status-500'
  | 'stall-packument'
  | 'stall-tarball'
  | 'trickle-tarball';

export interface FaultRegistryOptions {
  /** Path of the tarball to serve. */
  tarball: string;
  name: string;
  version: string;
  mode: FaultMode;
  /** Overrides the packument's `dist.integrity`. @default the tarball's sha512, or a wrong one in `wrong-integrity` */
  integrity?: string;
  /** Serve HTTPS with this key and certificate (PEM), e.g. a self-signed one no client trusts. */
  tls?: { key: string; cert: string };
  /** `trickle-tarball`: the pause between bytes. @default 200 */
  trickleMs?: number;
}

export interface FaultRegistry {
  /** Base URL with a trailing slash. */
  url: string;
  /** Where the packument says the tarball is. */
  tarballUrl: string;
  /** `METHOD path` of every request received, in order, so tests can count retries. */
  requests: string[];
  close(): Promise<void>;
}

function sri(data: Buffer): string {
  return `sha512-${createHash('sha512').update(data).digest('base64')}`;
}

export async function startFaultRegistry(options: FaultRegistryOptions): Promise<FaultRegistry> {
  const { name, version, mode } = options;
  const tarball = await readFile(options.tarball);
  const integrity =
    options.integrity ?? sri(mode === 'wrong-integrity' ? Buffer.concat([tarball, Buffer.from('x')]) : tarball);
  const tarballPath = `/${name}/-/${name.split('/').pop()}-${version}.tgz`;
  const requests: string[] = [];
  let base = '';

  const handler: Parameters<typeof createServer>[1] = (req, res) => {
    const path = decodeURIComponent(req.url ?? '/');
    requests.push(`${req.method} ${path}`);
    if (mode === 'status-500') {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"injected fault"}');
    } else if (path === `/${name}` && mode === 'stall-packument') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    } else if (path === tarballPath && (mode === 'stall-tarball' || mode === 'trickle-tarball')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tarball.length });
      res.flushHeaders();
      if (mode === 'trickle-tarball') trickle(res, tarball, options.trickleMs ?? 200);
    } else if (path === `/${name}`) {
      const packument = {
        name,
        'dist-tags': { latest: version },
        versions: {
          [version]: {
            name,
            version,
            dist: { tarball: new URL(tarballPath.slice(1), base).href, integrity, shasum: sha1(tarball) },
          },
        },
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
    } else if (path === tarballPath && mode === 'truncated') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tarball.length });
      // destroy() only after the half is flushed, so the client sees a short body rather than no body.
      res.write(tarball.subarray(0, Math.floor(tarball.length / 2)), () => res.destroy());
    } else if (path === tarballPath) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tarball.length });
      res.end(tarball);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  };
  const server = options.tls ? createTlsServer(options.tls, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  base = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url: base,
    tarballUrl: new URL(tarballPath.slice(1), base).href,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** One byte at a time, never the last one: a download that never ends and never idles. */
function trickle(res: import('node:http').ServerResponse, data: Buffer, everyMs: number): void {
  let at = 0;
  const timer = setInterval(() => {
    if (at < data.length - 1) res.write(data.subarray(at, ++at));
  }, everyMs);
  res.on('close', () => clearInterval(timer));
}

function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}
