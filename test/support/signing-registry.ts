// A small registry on node:http that signs what it serves, as registry.npmjs.org does: a generated ECDSA P-256 key
// on `/-/npm/v1/keys`, and `dist.signatures` over `${name}@${version}:${integrity}` in every packument. Verdaccio
// serves no keys endpoint, so signatures (good, bad, missing) need this one. Not a stand-in for the real registry.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/**
 * - `good`: signed with the served key
 * - `bad`: signed with the served key, but over other bytes (pacote: EINTEGRITYSIGNATURE)
 * - `unknown-key`: signed by a key the keys endpoint does not list (EMISSINGSIGNATUREKEY)
 * - `none`: no `dist.signatures` at all
 */
export type SignatureMode = 'good' | 'bad' | 'unknown-key' | 'none';

export interface SignedPackage {
  /** Path of a real tarball (npm pack); its package.json is the version's manifest. */
  tarball: string;
  signature?: SignatureMode;
  /** Announce a provenance attestation in `dist.attestations`. */
  provenance?: boolean;
}

export interface SigningRegistry {
  /** Base URL with a trailing slash. */
  url: string;
  /** The served key's id (`SHA256:<base64 of the SPKI DER's sha256>`, npm's shape). */
  keyid: string;
  /** Serve `/-/npm/v1/keys` (false: 404, as Verdaccio answers; 'error': 500). Mutable between requests. */
  keys: boolean | 'error';
  /** `name@version` → how it is signed. Mutable between requests. */
  modes: Map<string, SignatureMode>;
  /** `METHOD path` of every request, in order. */
  requests: string[];
  close(): Promise<void>;
}

interface Version {
  manifest: Record<string, unknown>;
  bytes: Buffer;
  provenance: boolean;
}

/** package/package.json out of a .tgz (ustar: 512-byte headers, the name in the first 100 bytes). */
function packageJsonOf(tgz: Buffer): Record<string, unknown> {
  const tar = gunzipSync(tgz);
  for (let at = 0; at + 512 <= tar.length; ) {
    const name = tar
      .subarray(at, at + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    const size = Number.parseInt(
      tar
        .subarray(at + 124, at + 136)
        .toString('utf8')
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    );
    if (name === 'package/package.json') return JSON.parse(tar.subarray(at + 512, at + 512 + size).toString('utf8'));
    if (name === '') break;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('no package/package.json in the tarball');
}

const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyidOf = (der: Buffer) => `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;

export async function startSigningRegistry(packages: SignedPackage[]): Promise<SigningRegistry> {
  const served = keyPair();
  const other = keyPair();
  const der = served.publicKey.export({ type: 'spki', format: 'der' });
  const keyid = keyidOf(der);
  const otherKeyid = keyidOf(other.publicKey.export({ type: 'spki', format: 'der' }));
  const byName = new Map<string, Map<string, Version>>();
  const modes = new Map<string, SignatureMode>();
  for (const pkg of packages) {
    const bytes = await readFile(pkg.tarball);
    const manifest = packageJsonOf(bytes);
    const name = manifest.name as string;
    const version = manifest.version as string;
    if (!byName.has(name)) byName.set(name, new Map());
    byName.get(name)!.set(version, { manifest, bytes, provenance: pkg.provenance === true });
    modes.set(`${name}@${version}`, pkg.signature ?? 'good');
  }
  let base = '';

  const signaturesFor = (id: string, integrity: string) => {
    const mode = modes.get(id) ?? 'good';
    if (mode === 'none') return undefined;
    const message = mode === 'bad' ? `${id}:${integrity}x` : `${id}:${integrity}`;
    const key = mode === 'unknown-key' ? other.privateKey : served.privateKey;
    return [
      {
        keyid: mode === 'unknown-key' ? otherKeyid : keyid,
        sig: sign('sha256', Buffer.from(message), key).toString('base64'),
      },
    ];
  };

  const packument = (name: string, versions: Map<string, Version>) => {
    const out: Record<string, unknown> = {};
    const time: Record<string, string> = {};
    for (const [version, { manifest, bytes, provenance }] of versions) {
      const integrity = `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
      const tarball = new URL(`${name}/-/${name.split('/').pop()}-${version}.tgz`, base).href;
      const signatures = signaturesFor(`${name}@${version}`, integrity);
      const attestations = provenance
        ? {
            url: new URL(`-/npm/v1/attestations/${name}@${version}`, base).href,
            provenance: { predicateType: 'https://slsa.dev/provenance/v1' },
          }
        : undefined;
      out[version] = {
        ...manifest,
        _id: `${name}@${version}`,
        dist: {
          tarball,
          integrity,
          shasum: createHash('sha1').update(bytes).digest('hex'),
          ...(signatures ? { signatures } : {}),
          ...(attestations ? { attestations } : {}),
        },
      };
      time[version] = '2026-01-01T00:00:00.000Z';
    }
    const latest = [...versions.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop()!;
    return { name, 'dist-tags': { latest }, versions: out, time };
  };

  const registry: SigningRegistry = {
    url: '',
    keyid,
    keys: true,
    modes,
    requests: [],
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };

  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '/');
    registry.requests.push(`${req.method} ${path}`);
    const json = (status: number, body: unknown) =>
      res
        .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(body));
    if (path === '/-/npm/v1/keys') {
      if (!registry.keys) return json(404, { error: 'not found' });
      if (registry.keys === 'error') return json(500, { error: 'injected fault' });
      return json(200, {
        keys: [
          {
            expires: null,
            keyid,
            keytype: 'ecdsa-sha2-nistp256',
            scheme: 'ecdsa-sha2-nistp256',
            key: der.toString('base64'),
          },
        ],
      });
    }
    const versions = byName.get(path.slice(1));
    if (versions) return json(200, packument(path.slice(1), versions));
    const tarball = /^\/(.+)\/-\/[^/]+-(\d[^/]*)\.tgz$/.exec(path);
    const version = tarball && byName.get(tarball[1]!)?.get(tarball[2]!);
    if (version)
      return res
        .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': version.bytes.length })
        .end(version.bytes);
    return json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  registry.url = base;
  return registry;
}
