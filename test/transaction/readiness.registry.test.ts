// Readiness as OpenClaw publishes it (`/readyz`: `{ready, failing}`, docs/gateway/health.md), judged against what the
// service said before the activation (transaction/contract-success.ts). The service here is a real HTTP server in this
// process (so this process's pid owns the listener, as the new main PID must); the supervisor only names that pid.
// A channel ready before and failing after is a warning (readiness: warn) or a failed verification (require); one
// failing before too is not the release's doing; no readiness answer after one before is a loss as well.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { VerifyResult } from '../../src/service/health.ts';
import type { Supervisor } from '../../src/service/supervisors/types.ts';
import { type Config, defaultConfig } from '../../src/store/config.ts';
import { judgeListener, readinessBefore } from '../../src/transaction/contract-success.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A gateway whose /readyz answers `readyz()` (null: the connection is dropped). */
async function gateway(readyz: () => { status: number; body: unknown } | null): Promise<string> {
  server = createServer((req, res) => {
    if (req.url !== '/readyz') return void res.end(JSON.stringify({ status: 'started', version: '2.0.0' }));
    const answer = readyz();
    if (!answer) return void req.socket.destroy();
    res.statusCode = answer.status;
    res.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/startupz`;
}

const supervisor = {
  state: async () => ({ active: true, state: 'active', mainPid: process.pid, restarts: 0, exitStatus: null }),
} as unknown as Supervisor;
const healthy: VerifyResult = {
  ok: true,
  evidence: { probes: 3, healthyAfterMs: 10, lastHttpStatus: 200, lastVersion: '2.0.0', lastError: null, state: null },
};
const configFor = (healthUrl: string, readiness: Config['readiness'] = 'warn'): Config => ({
  ...defaultConfig('openclaw'),
  preset: 'openclaw',
  healthUrl,
  readiness,
});
const ready = (failing: string[]) => ({
  status: failing.length === 0 ? 200 : 503,
  body: { ready: failing.length === 0, failing },
});

describe('readiness judged against before', () => {
  it('a channel ready before and not after: a warning on the transaction, verified; with require, not_ready', async () => {
    let answer = ready([]);
    const url = await gateway(() => answer);
    const before = await readinessBefore(configFor(url));
    expect(before).toEqual({ notReady: [] });
    answer = ready(['telegram']);
    const warned = await judgeListener(configFor(url), supervisor, healthy, before);
    expect(warned.result.ok).toBe(true);
    expect(warned.result.evidence).toMatchObject({
      mainPidOwnsListener: true,
      readiness: { before: [], after: ['telegram'], lost: ['telegram'] },
    });
    expect(warned.warnings).toEqual([
      {
        step: 'verify',
        code: 'NOT_READY',
        message:
          'not ready after the stability window, ready before: telegram (/readyz 503); verified on health and version (readiness: warn)',
      },
    ]);
    const required = await judgeListener(configFor(url, 'require'), supervisor, healthy, before);
    expect(required.result).toMatchObject({
      ok: false,
      reason: 'not_ready',
      detail: 'not ready after the stability window, ready before: telegram (/readyz 503)',
    });
    expect(required.warnings).toEqual([]);
  });

  it('failing before as after: nothing lost, nothing said; a new failure beside an old one is the only one named', async () => {
    let answer = ready(['discord']);
    const url = await gateway(() => answer);
    const before = await readinessBefore(configFor(url, 'require'));
    expect(before).toEqual({ notReady: ['discord'] });
    const same = await judgeListener(configFor(url, 'require'), supervisor, healthy, before);
    expect(same).toMatchObject({ result: { ok: true }, warnings: [] });
    expect(same.result.evidence).not.toHaveProperty('readiness');
    answer = ready(['discord', 'agent-database:main']);
    const worse = await judgeListener(configFor(url, 'require'), supervisor, healthy, before);
    expect(worse.result).toMatchObject({
      ok: false,
      reason: 'not_ready',
      evidence: { readiness: { lost: ['agent-database:main'] } },
    });
  });

  it('no readiness answer after one before is a loss; none before and none after is not', async () => {
    let answer: ReturnType<typeof ready> | null = ready([]);
    const url = await gateway(() => answer);
    const before = await readinessBefore(configFor(url));
    answer = null;
    const silent = await judgeListener(configFor(url), supervisor, healthy, before);
    expect(silent.result.ok).toBe(true);
    expect(silent.warnings[0]?.message).toMatch(
      /^\/readyz gave no readiness answer after the stability window \(.+\); before it did/,
    );
    expect(await judgeListener(configFor(url), supervisor, healthy, { notReady: null })).toMatchObject({
      warnings: [],
    });
  });

  it('the way back (no before given) and a service without the contract are not judged on readiness', async () => {
    const url = await gateway(() => ready(['telegram']));
    expect((await judgeListener(configFor(url, 'require'), supervisor, healthy)).result.ok).toBe(true);
    const plain = { ...configFor(url, 'require'), preset: null, package: 'rs-fixture-gateway' };
    expect(await readinessBefore(plain)).toBeUndefined();
    expect(await judgeListener(plain, supervisor, healthy, { notReady: [] })).toEqual({
      result: healthy,
      warnings: [],
    });
  });
});
