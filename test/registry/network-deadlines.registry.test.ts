// Issue 21, deadlines: every read from a registry has an idle deadline (npm's fetch-timeout, for packuments and
// tarballs alike) and a total one (a registry sending a byte now and then never idles), and an activation of an
// installed release never waits on a download that holds the root's lock: the staging gives way (CANCELLED),
// leaving nothing behind. Through the built CLI, against a registry on node:http that stalls or trickles.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { rs, tempDir, templateRoot } from '../support/cli.ts';
import { type FaultMode, startFaultRegistry } from '../support/fault-registry.ts';
import { linkOf, releaseDirs, stagingEntries } from '../support/root.ts';

const freshRoot = templateRoot(['1.0.0', '1.1.0']);

/**
 * A registry serving rs-fixture-gateway@9.0.0 (no dependencies in its packument, so nothing else is fetched)
 * with the fault `mode`, and `root` re-pointed at it. The tarball's bytes never all arrive, so any will do; random
 * ones, so that no npm cache holds their integrity (a fixture's tarball would be served from the file's cache).
 */
async function stallingRegistry(root: string, mode: FaultMode) {
  const tarball = join(tempDir(), 'never-whole.tgz');
  writeFileSync(tarball, randomBytes(4096));
  const registry = await startFaultRegistry({ tarball, name: 'rs-fixture-gateway', version: '9.0.0', mode });
  onTestFinished(() => registry.close());
  const config = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'));
  expect((await rs(root, ['init', '--registry', registry.url])).exitCode).toBe(0);
  expect(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')).package).toBe(config.package);
  return registry;
}

/** npm's own settings for a short idle deadline, no retries (npm retries a failed request twice by default). */
const npmSettings = (fetchTimeoutMs: number) => ({
  npm_config_fetch_timeout: String(fetchTimeoutMs),
  npm_config_fetch_retries: '0',
});

async function expectFetchFailedWithin(root: string, env: Record<string, string>, withinMs: number) {
  const started = Date.now();
  const r = await rs(root, ['install', 'rs-fixture-gateway@9.0.0'], { env, timeout: 90_000 });
  const ms = Date.now() - started;
  expect([r.exitCode, r.json?.error?.code], r.stdout + r.stderr).toEqual([1, 'FETCH_FAILED']);
  expect(ms).toBeLessThan(withinMs);
  expect(stagingEntries(root)).toEqual([]);
  expect(releaseDirs(root)).toEqual(['1.0.0', '1.1.0']);
  expect(linkOf(root, 'current')).toBe('releases/1.0.0');
  return r;
}

describe('network deadlines', () => {
  it("a packument whose body never comes ends at npm's fetch-timeout (idle): FETCH_FAILED, nothing left", async () => {
    const root = freshRoot();
    await stallingRegistry(root, 'stall-packument');
    const r = await expectFetchFailedWithin(root, npmSettings(1500), 30_000);
    expect(r.json.error.message).toMatch(/fetch-timeout|stopped answering/);
  });

  it("a tarball whose body never comes ends at npm's fetch-timeout (idle): FETCH_FAILED, nothing left", async () => {
    const root = freshRoot();
    const registry = await stallingRegistry(root, 'stall-tarball');
    await expectFetchFailedWithin(root, npmSettings(1500), 30_000);
    expect(registry.requests.some((r) => r.startsWith('GET /rs-fixture-gateway/-/'))).toBe(true);
  });

  it("the auto-updater's tick on a registry whose packument never comes: FETCH_FAILED at the idle deadline", async () => {
    const root = freshRoot();
    await stallingRegistry(root, 'stall-packument');
    const started = Date.now();
    const r = await rs(root, ['auto-update'], { env: npmSettings(1500), timeout: 90_000 });
    expect([r.exitCode, r.json?.error?.code], r.stdout + r.stderr).toEqual([1, 'FETCH_FAILED']);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
  });

  it('a tarball sent a byte every 200 ms never idles: it ends at the total deadline (4 x fetch-timeout)', async () => {
    const root = freshRoot();
    await stallingRegistry(root, 'trickle-tarball');
    const r = await expectFetchFailedWithin(root, npmSettings(1500), 40_000);
    expect(r.json.error.message).toMatch(/did not finish within 6 s/);
  });
});

describe('an activation does not wait on a download', () => {
  it('rollback while an install trickles holding the lock: the install gives way (CANCELLED), the rollback is done at once', async () => {
    const root = freshRoot();
    expect((await rs(root, ['switch', '1.1.0'])).exitCode).toBe(0);
    const registry = await stallingRegistry(root, 'trickle-tarball');
    // npm's default fetch-timeout (5 minutes): without precedence the rollback would wait that long, or be BUSY.
    const install = rs(root, ['install', 'rs-fixture-gateway@9.0.0'], { timeout: 90_000 });
    await expect
      .poll(() => registry.requests.some((r) => r.startsWith('GET /rs-fixture-gateway/-/')), {
        timeout: 30_000,
        interval: 100,
      })
      .toBe(true);
    const started = Date.now();
    const back = await rs(root, ['rollback']);
    expect([back.exitCode, back.json?.result?.to], back.stdout + back.stderr).toEqual([0, '1.0.0']);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    const installed = await install;
    expect([installed.exitCode, installed.json?.error?.code], installed.stdout + installed.stderr).toEqual([
      1,
      'CANCELLED',
    ]);
    expect(installed.json.error.message).toMatch(/gave way to `rollback`/);
    expect(stagingEntries(root)).toEqual([]);
    expect(releaseDirs(root)).toEqual(['1.0.0', '1.1.0']);
  });

  it('switch to an installed release while an install waits on a stalled tarball: the install gives way, the switch is done', async () => {
    const root = freshRoot();
    const registry = await stallingRegistry(root, 'stall-tarball');
    const install = rs(root, ['install', 'rs-fixture-gateway@9.0.0'], { timeout: 90_000 });
    await expect
      .poll(() => registry.requests.some((r) => r.startsWith('GET /rs-fixture-gateway/-/')), {
        timeout: 30_000,
        interval: 100,
      })
      .toBe(true);
    const started = Date.now();
    const sw = await rs(root, ['switch', '1.1.0']);
    expect([sw.exitCode, sw.json?.result?.to], sw.stdout + sw.stderr).toEqual([0, '1.1.0']);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(linkOf(root, 'current')).toBe('releases/1.1.0');
    const installed = await install;
    expect([installed.exitCode, installed.json?.error?.code], installed.stdout + installed.stderr).toEqual([
      1,
      'CANCELLED',
    ]);
    expect(installed.json.error.message).toMatch(/gave way to `switch 1\.1\.0`/);
    expect(stagingEntries(root)).toEqual([]);
    expect(releaseDirs(root)).toEqual(['1.0.0', '1.1.0']);
  });
});
