// When a packument is revalidated the short way (packument-revalidate.ts): only for a stored answer that
// make-fetch-happen would revalidate on every request anyway (an ETag, nothing that can make it fresh),
// stored for the very request pacote makes (full document, same URL, compressed, plain 200). Every other
// entry is left to pacote's own way, which then behaves exactly as before.
import { describe, expect, it } from 'vitest';
import { cacheKeyOf, revalidatable } from '../../../src/stage/resolve/packument-revalidate.ts';

const URL_ = 'http://127.0.0.1:4873/express';
const ETAG = '"ff601ecba3db30608314c6842613a517"';
/** As make-fetch-happen stored Verdaccio's answer to pacote's full-packument request. */
const stored = () => ({
  integrity: 'sha512-h8ci8pgHA9WQu64RUsnK8NRcEQluXeCvoFJvr7D3GjZzXcM7vpENFhBG5adb31sM9gusOVLAXWEnDx4ryX4wag==',
  metadata: {
    time: 1795437110721,
    url: URL_,
    reqHeaders: { accept: 'application/json' } as Record<string, string>,
    resHeaders: {
      date: 'Mon, 23 Nov 2026 12:31:50 GMT',
      etag: ETAG,
      'content-encoding': 'gzip',
      'content-type': 'application/json; charset=utf-8',
      vary: 'Accept-Encoding',
    } as Record<string, string>,
    options: { compress: true },
  } as Record<string, any>,
});

describe('revalidatable', () => {
  it("gives the ETag of an answer that is never fresh, stored for pacote's request", () => {
    expect(revalidatable(stored(), URL_)).toBe(ETAG);
  });

  it.each([
    ['no entry', () => null],
    ['no content (a deletion)', () => ({ ...stored(), integrity: null })],
    ['another URL', () => stored(), 'http://127.0.0.1:4873/express2'],
    ['a stored status (not a 200)', () => ({ ...stored(), metadata: { ...stored().metadata, status: 404 } })],
    ['no ETag', () => withRes({ etag: undefined })],
    ['Cache-Control (max-age may make it fresh)', () => withRes({ 'cache-control': 'public, max-age=300' })],
    ['Expires', () => withRes({ expires: 'Mon, 23 Nov 2026 13:00:00 GMT' })],
    ['Last-Modified (heuristic freshness)', () => withRes({ 'last-modified': 'Mon, 23 Nov 2026 12:00:00 GMT' })],
    ['Vary on more than Accept-Encoding', () => withRes({ vary: 'Accept-Encoding, Authorization' })],
    ['the abbreviated document', () => withReq({ accept: 'application/vnd.npm.install-v1+json' })],
    ['another request header kept', () => withReq({ accept: 'application/json', host: 'registry.example' })],
    ['uncompressed', () => ({ ...stored(), metadata: { ...stored().metadata, options: { compress: false } } })],
  ])('leaves it to pacote with %s', (_what, entry, url = URL_) => {
    expect(revalidatable(entry() as Parameters<typeof revalidatable>[0], url)).toBeUndefined();
  });
});

function withRes(headers: Record<string, string | undefined>) {
  const entry = stored();
  const res = { ...entry.metadata.resHeaders, ...headers };
  for (const [name, value] of Object.entries(res)) if (value === undefined) delete res[name];
  entry.metadata.resHeaders = res;
  return entry;
}

function withReq(headers: Record<string, string>) {
  const entry = stored();
  entry.metadata.reqHeaders = headers;
  return entry;
}

describe('cacheKeyOf', () => {
  it("is make-fetch-happen's key: no credentials, no fragment", () => {
    expect(cacheKeyOf('http://user:secret@127.0.0.1:4873/@scope%2fname#x')).toBe(
      'make-fetch-happen:request-cache:http://127.0.0.1:4873/@scope%2fname',
    );
  });
});
