// The rehearsal in its own process group (no supervisor isolation): each way a candidate fails is named,
// nothing of it survives, the private state is gone and the live state is byte-identical.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyStatePrivately } from '../../src/snapshot/private-copy.ts';
import {
  fill,
  type PreflightOptions,
  type PreflightRecord,
  rehearsalUrl,
  runPreflight,
} from '../../src/rehearsal/preflight.ts';
import { candidate, pidAlive, snapshotBytes } from './preflight-support.ts';

let root: string;
let live: string;
// By version: the rehearsals run side by side, each with a work folder and records of its own (each case's own
// rehearsals are one after another), so "nothing left" is each one's, never another's still running.
const records = new Map<string, PreflightRecord[]>();
const workRoot = (version: string) => join(root, 'preflight', version);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rs-preflight-'));
  live = join(root, 'live-state');
  await mkdir(live);
  await writeFile(join(live, 'state.db'), `${JSON.stringify({ schema: 17, migrations: [], starts: ['4.0.0'] })}\n`);
  await writeFile(join(live, 'state.db-wal'), `${JSON.stringify({ schema: 17, by: '4.0.0' })}\n`);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function rehearse(version: string, over: Partial<PreflightOptions> = {}) {
  const releaseDir = join(root, 'releases', version);
  return runPreflight({
    node: process.execPath,
    args: ['server.js', '--port', '{port}'],
    env: { STATE_DIR: '{state}' },
    baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    releaseDir,
    expectedVersion: version,
    healthUrl: 'http://gateway.example:18789/health',
    versionField: 'version',
    verifyTimeoutMs: 3_000,
    holdMs: 1_000,
    copyState: (dir) => copyStatePrivately([live], dir),
    workRoot: workRoot(version),
    isolation: { kind: 'group' },
    onRecord: async (record) => void records.set(version, [...(records.get(version) ?? []), record]),
    ...over,
  });
}

async function expectNothingLeft(version: string): Promise<void> {
  for (const r of records.get(version) ?? [])
    if (r.pgid) expect(pidAlive(r.pgid), `process group ${r.pgid}`).toBe(false);
  expect(await readdir(workRoot(version))).toEqual([]);
}

describe('runPreflight, process group', () => {
  it('replaces host and port of the health URL with 127.0.0.1:{port}', () => {
    expect(rehearsalUrl('http://gateway.example:18789/health?x=1', 4242)).toBe('http://127.0.0.1:4242/health?x=1');
  });

  it('fills each placeholder once: a value that holds a placeholder is not filled again', () => {
    const vars = { port: 4242, state: '/srv/{token}/{port}', token: 's3cret', config: '/c/{state}.json' };
    expect(fill('--port {port} --state {state} --config {config} --token {token} {other}', vars)).toBe(
      '--port 4242 --state /srv/{token}/{port} --config /c/{state}.json --token s3cret {other}',
    );
  });

  // The rehearsals below mostly wait (a start, a deadline, a hold, a stop's grace): they run side by side.
  it.concurrent('passes a good candidate that migrates only its private copy of the state', async () => {
    await candidate(root, '4.1.0', { schema: 18 });
    const before = await snapshotBytes(live);
    const result = await rehearse('4.1.0');
    expect(result, result.outputTail).toMatchObject({ ok: true });
    expect(result.probes).toBeGreaterThan(0);
    expect(result.port).toBeGreaterThan(0);
    expect(result.outputTail).toContain(`listening on http://127.0.0.1:${result.port}`);
    expect(await snapshotBytes(live)).toEqual(before);
    await expectNothingLeft('4.1.0');
  });

  const refusals: Array<[string, string, Parameters<typeof candidate>[2], string]> = [
    // First: the longest (its deadline, then the stop's whole grace before SIGKILL), among the first five to start.
    ['ignores SIGTERM (stopped by SIGKILL of its group)', '3.4.0', { behaviour: 'ignore-sigterm' }, 'never_healthy'],
    ['crashes on start', '3.0.0', { behaviour: 'crash-on-start' }, 'crashed'],
    ['is never healthy', '3.3.0', { behaviour: 'never-healthy' }, 'never_healthy'],
    ['reports the wrong version', '3.2.0', { behaviour: 'wrong-version' }, 'version_mismatch'],
    ['dies within the hold', '3.1.0', { behaviour: 'crash-after-3s' }, 'died_in_hold'],
    ['migrates the state, then dies', '4.3.0', { schema: 19, behaviour: 'crash-on-start' }, 'crashed'],
  ];
  for (const [what, version, spec, reason] of refusals) {
    it.concurrent(`refuses a candidate that ${what}: ${reason}, live state byte-identical, nothing left`, async () => {
      await candidate(root, version, spec);
      const before = await snapshotBytes(live);
      // The stop's grace before SIGKILL is the product's 5 s; 1 s here, SIGKILL's path the same.
      const result = await rehearse(version, {
        holdMs: version === '3.1.0' ? 5_000 : 1_000,
        ...(version === '3.4.0' && { stopGraceMs: 1_000 }),
      });
      expect(result.ok).toBe(false);
      expect(result.reason, result.detail).toBe(reason);
      expect(result.detail).not.toBe('');
      // It ignored the SIGTERM (so nothing left below is SIGKILL's doing).
      if (version === '3.4.0') expect(result.outputTail).toContain('ignoring SIGTERM');
      expect(await snapshotBytes(live)).toEqual(before);
      await expectNothingLeft(version);
    }, 30_000);
  }

  // The rule verification applies after a flip (service/health.ts `startedWhen`: openclaw's /startupz must say
  // `status: "started"`) is the rehearsal's too: a 2xx with the candidate's own version and another status is refused.
  it.concurrent('refuses a candidate whose 2xx, with its own version, does not say started: never_healthy, what it said kept', async () => {
    await candidate(root, '4.4.0'); // answers 200 { status: 'ok', version }
    const before = await snapshotBytes(live);
    const result = await rehearse('4.4.0', {
      startedWhen: { field: 'status', value: 'started' },
      verifyTimeoutMs: 1_500,
    });
    expect(result, result.outputTail).toMatchObject({
      ok: false,
      reason: 'never_healthy',
      lastHttpStatus: 200,
      lastVersion: '4.4.0',
      detail: `not healthy within 1.5 s: http://127.0.0.1:${result.port}/health answered 200 with status "ok", not "started"`,
    });
    expect(await snapshotBytes(live)).toEqual(before);
    await expectNothingLeft('4.4.0');
    // The same candidate without the rule passes, its last answer kept as well.
    expect(await rehearse('4.4.0')).toMatchObject({ ok: true, lastHttpStatus: 200, lastVersion: '4.4.0' });
  }, 30_000);

  it('keeps the output tail of a crashed candidate', async () => {
    const result = await rehearse('3.0.0');
    expect(result.outputTail).toContain('crashing on start (fixture behaviour)');
  });
});
