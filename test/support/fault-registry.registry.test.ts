// Each fault mode, observed with plain fetch() the way a registry client would meet it.
import { createHash } from 'node:crypto';
import { expect, inject, onTestFinished, test } from 'vitest';
import { type FaultMode, startFaultRegistry } from './fault-registry.ts';

const fixtures = inject('fixtures');
const gateway = fixtures.packages.find((p) => p.spec === 'rs-fixture-gateway@1.0.0')!;

async function start(mode: FaultMode) {
  const registry = await startFaultRegistry({ tarball: gateway.tarball, name: gateway.name, version: '1.0.0', mode });
  onTestFinished(() => registry.close());
  return registry;
}

async function packumentDist(url: string): Promise<{ tarball: string; integrity: string }> {
  const packument = (await (await fetch(new URL(gateway.name, url))).json()) as any;
  return packument.versions['1.0.0'].dist;
}

function sri(bytes: ArrayBuffer): string {
  return `sha512-${createHash('sha512').update(Buffer.from(bytes)).digest('base64')}`;
}

test('ok: the packument points at the tarball and its integrity matches', async () => {
  const registry = await start('ok');
  const dist = await packumentDist(registry.url);
  expect(dist.tarball).toBe(registry.tarballUrl);
  const bytes = await (await fetch(dist.tarball)).arrayBuffer();
  expect(sri(bytes)).toBe(dist.integrity);
  expect(dist.integrity).toBe(gateway.integrity);
});

test('wrong-integrity: the tarball arrives whole but does not match the packument', async () => {
  const registry = await start('wrong-integrity');
  const dist = await packumentDist(registry.url);
  const bytes = await (await fetch(dist.tarball)).arrayBuffer();
  expect(sri(bytes)).toBe(gateway.integrity);
  expect(dist.integrity).not.toBe(gateway.integrity);
});

test('truncated: the tarball body ends early although Content-Length promised more', async () => {
  const registry = await start('truncated');
  const dist = await packumentDist(registry.url);
  const res = await fetch(dist.tarball);
  expect(res.status).toBe(200);
  expect(Number(res.headers.get('content-length'))).toBeGreaterThan(0);
  await expect(res.arrayBuffer()).rejects.toThrow();
});

test('status-500: both the packument and the tarball fail', async () => {
  const registry = await start('status-500');
  expect((await fetch(new URL(gateway.name, registry.url))).status).toBe(500);
  expect((await fetch(registry.tarballUrl)).status).toBe(500);
  expect(registry.requests).toEqual([`GET /${gateway.name}`, `GET /${gateway.name}/-/rs-fixture-gateway-1.0.0.tgz`]);
});
