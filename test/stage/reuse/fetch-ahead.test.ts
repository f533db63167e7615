// Tarballs fetched into npm's cache while the tree resolves (fetch-ahead.ts), against a local HTTP
// server standing in for the registry's tarball URLs: a new one is fetched once and counted; one the
// previous release holds, one the cache has, and one offered after the tree is known are never
// requested; a failed download is reported to nobody but the extraction (which fetches again).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import cacache from 'cacache';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchAhead } from '../../../src/stage/reuse/fetch-ahead.ts';
import type { PreviousRelease } from '../../../src/stage/reuse/tree-record.ts';
import { tempDir } from '../../support/cli.ts';

const bodies = new Map<string, Buffer>();
const requests: string[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = bodies.get(req.url ?? '');
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/octet-stream' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A package version served at its tarball URL (its bytes need not be a tarball: only the integrity is checked). */
function served(name: string, version: string, content = `${name}@${version}`) {
  const body = Buffer.from(content);
  const url = `/${name}/-/${name}-${version}.tgz`;
  bodies.set(url, body);
  const integrity = `sha512-${createHash('sha512').update(body).digest('base64')}`;
  return { name, version, resolved: `${base}${url}`, integrity, url };
}

function setUp(previous?: PreviousRelease) {
  const work = tempDir('rs-ahead-');
  const cache = join(work, 'npm-cache', '_cacache');
  const dir = join(work, 'staging', 'ahead');
  const pacoteOptions = { cache, fetchRetries: 0, timeout: 10_000 };
  return { cache, dir, ahead: new FetchAhead(dir, { pacoteOptions, previous: Promise.resolve(previous) }) };
}

describe('FetchAhead', () => {
  it('fetches a new package into the cache once, waits for it when asked, and leaves no folder behind', async () => {
    const { cache, dir, ahead } = setUp();
    const pkg = served('ahead-new', '1.0.0');
    ahead.offer(pkg);
    ahead.offer({ ...pkg, name: 'ahead-alias' }); // the same tarball under another name: one download
    expect(await ahead.fetched(pkg)).toBe(true);
    expect(await cacache.get.hasContent(cache, pkg.integrity)).toBeTruthy();
    expect(requests.filter((url) => url === pkg.url)).toHaveLength(1);
    await ahead.stop();
    expect(existsSync(dir)).toBe(false);
  });

  it('never requests what the previous release holds, what the cache has, or what is offered once the tree is known', async () => {
    const held = served('ahead-held', '2.0.0');
    const previous = {
      dir: '/nonexistent',
      files: [],
      node: 'v24.0.0',
      immutable: false,
      packages: { 'node_modules/ahead-held': { version: '2.0.0', integrity: held.integrity } },
    };
    const { cache, ahead } = setUp(previous);
    const cached = served('ahead-cached', '1.0.0');
    await cacache.put(cache, 'some-key', bodies.get(cached.url)!);
    const late = served('ahead-late', '1.0.0');
    ahead.offer(held);
    ahead.offer(cached);
    expect(await ahead.fetched(held)).toBe(false);
    expect(await ahead.fetched(cached)).toBe(false);
    ahead.close();
    ahead.offer(late);
    expect(await ahead.fetched(late)).toBe(false);
    await ahead.stop();
    expect(requests.filter((url) => [held.url, cached.url, late.url].includes(url))).toEqual([]);
  });

  it('a download that fails (404, or a body that does not match its integrity) is dropped quietly: nothing cached', async () => {
    const { cache, dir, ahead } = setUp();
    const missing = { ...served('ahead-missing', '1.0.0'), resolved: `${base}/ahead-missing/-/gone.tgz` };
    const tampered = { ...served('ahead-tampered', '1.0.0'), integrity: served('other', '9.9.9').integrity };
    ahead.offer(missing);
    ahead.offer(tampered);
    expect(await ahead.fetched(missing)).toBe(false);
    expect(await ahead.fetched(tampered)).toBe(false);
    expect(await cacache.get.hasContent(cache, tampered.integrity)).toBe(false);
    expect(requests).toContain('/ahead-missing/-/gone.tgz');
    expect(requests).toContain(tampered.url);
    await ahead.stop();
    expect(existsSync(dir)).toBe(false);
  });
});
