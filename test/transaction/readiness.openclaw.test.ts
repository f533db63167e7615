import { loadavg } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultTestAccount } from '../support/accounts.ts';
import { cli } from '../support/cli.ts';
import {
  accountNpmCache,
  adoptRunningGateway,
  openclawCliEnv,
  giveTo,
  OPENCLAW_UNIT as UNIT,
  openclawBench,
  openclawHealthy,
  prepClock,
  openclawWork,
  REMOVE_TIMEOUT_MS,
  removeOpenclawBench,
  SHORT_WINDOWS,
  writeOpenclawService,
} from '../support/openclaw.ts';
import { copyOpenclaw, openclawNpmCache } from '../support/openclaw-prepared.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, type UserManager } from '../support/systemd.ts';
import { FAKE_BOT_TOKEN, type FakeBotApi, startFakeBotApi } from '../support/telegram-bot-api.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';

type StepJson = { name: string; status: string; detail?: string; evidence?: any };
type Readyz = { status: number; body: { ready?: boolean; failing?: string[] } };

/** The user's Telegram channel (docs/channels/telegram.md), its Bot API the fake's, owned by the main agent. */
const telegramConfig = (api: FakeBotApi) =>
  [
    `channels: ${JSON.stringify({ telegram: { enabled: true, botToken: FAKE_BOT_TOKEN, apiRoot: api.apiRoot } })},`,
    `bindings: ${JSON.stringify([{ agentId: 'main', match: { channel: 'telegram', accountId: 'default' } }])},`,
  ].join('\n  ');

describeWhere(canRunUserManager(), 'a channel readiness lost by an update (real openclaw, systemd --user)', () => {
  let um: UserManager;
  let port: number;
  let api: FakeBotApi;
  const account = defaultTestAccount();
  const work = openclawWork('rs-ocready-', account);
  const root = path.join(work, 'root');
  let npmCache: string;
  const _state = () => path.join(um.env.HOME!, '.openclaw');
  const env = () => openclawCliEnv(um, { npmCache, work });
  const rs = (args: string[], timeout = 1_200_000) => cli(['--root', root, '--json', ...args], { env: env(), timeout });
  const human = (args: string[], timeout = 1_200_000) => cli(['--root', root, ...args], { env: env(), timeout });
  const mainPid = async () => Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());
  const step = (tx: any, name: string): StepJson | undefined => tx?.steps?.find((s: StepJson) => s.name === name);
  const readyz = async (): Promise<Readyz | null> => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) });
      return { status: response.status, body: (await response.json()) as Readyz['body'] };
    } catch {
      return null;
    }
  };
  /** Polls `/readyz` until `wanted` accepts it (a gateway's channel starts after /startupz says started). */
  const readyzUntil = async (wanted: (r: Readyz) => boolean, timeoutMs: number): Promise<Readyz> => {
    const deadline = Date.now() + timeoutMs;
    let last: Readyz | null = null;
    for (;;) {
      last = await readyz();
      if (last && wanted(last)) return last;
      if (Date.now() > deadline) throw new Error(`/readyz never as wanted; last: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 500)); // polling a condition, not a timed wait
    }
  };
  /**
   * systemd's main PID of the gateway once `wanted` accepts it, polled every 100 ms while `watching()`; null when the
   * watch ended first (the command under test returned).
   */
  const mainPidUntil = async (wanted: (pid: number) => boolean, watching: () => boolean): Promise<number | null> => {
    while (watching()) {
      const pid = await mainPid();
      if (wanted(pid)) return pid;
      await new Promise((r) => setTimeout(r, 100)); // polling a condition, not a timed wait
    }
    return null;
  };

  beforeAll(async () => {
    console.log(`load average at start: ${loadavg()[0]!.toFixed(1)}`);
    const lap = prepClock('readiness');
    const prepared = await openclawNpmCache(work);
    npmCache = prepared.startsWith(`${work}/`) ? prepared : await accountNpmCache(work, prepared, account);
    await giveTo(account, npmCache);
    const prefix = await copyOpenclaw(FROM, path.join(work, 'prefix'), { link: true });
    const bench = await openclawBench({ name: 'ocready', work, version: FROM, prefix, account });
    const { node } = bench;
    um = bench.um;
    lap('npm cache, prefix copied, manager');
    port = await freePort();
    api = await startFakeBotApi();
    await writeOpenclawService(um, { node, prefix, port, config: telegramConfig(api), ownStateDir: true });
    // TO is staged (our CLI's install, from the registry) while the gateway restarts onto our unit: it needs the root,
    // not the gateway, and the restart mostly waits for the gateway's cold start.
    const installTo = async () => {
      const installed = await rs(['install', `openclaw@${TO}`]);
      expect(installed.exitCode, installed.stdout.slice(-2000) + installed.stderr.slice(-2000)).toBe(0);
    };
    await adoptRunningGateway(um, {
      ...{ rs, node, prefix, port, version: FROM, init: SHORT_WINDOWS },
      alongsideRestart: installTo,
    });
    lap(`first start, adopt, unit --install, restart on our unit with install ${TO} alongside`);
  }, 2_400_000);

  afterAll(async () => {
    await api?.close();
    await removeOpenclawBench(um, work);
  }, REMOVE_TIMEOUT_MS);

  it(`readiness: warn — ${TO}'s Telegram channel not ready after the update: verified, the loss a warning in update's output and in status`, async () => {
    // 9.5's channel talks to the stand-in (its start probe and its long polls) and /readyz is ready with it.
    const ready = await readyzUntil((r) => r.status === 200, 180_000);
    expect(ready.body).toMatchObject({ ready: true, failing: [] });
    const pollsAt = performance.now();
    await expect
      .poll(() => api.calls.filter((c) => c.method === 'getUpdates' && c.at > pollsAt).length, { timeout: 120_000 })
      .toBeGreaterThan(0);
    expect(api.calls.find((c) => c.method === 'getMe')).toMatchObject({ status: 200 });
    const old = await mainPid();
    // The token stops working once the old gateway has stopped (release-switcher read its readiness before the stop).
    let watching = true;
    let revokedAt = Number.POSITIVE_INFINITY;
    const revoke = mainPidUntil(
      (pid) => pid !== old,
      () => watching,
    ).then((pid) => {
      if (pid === null) return;
      revokedAt = performance.now();
      api.unauthorized();
    });
    const updated = await human(['update', `openclaw@${TO}`, '--no-preflight']);
    watching = false;
    await revoke;
    console.log(
      `update, readiness: warn (exit ${updated.exitCode}, load ${loadavg()[0]!.toFixed(1)}):\n${updated.stdout}\n${updated.stderr.slice(-3000)}`,
    );
    expect(updated.exitCode, updated.stdout + updated.stderr).toBe(0);
    expect(revokedAt, 'the old gateway never stopped').toBeLessThan(Number.POSITIVE_INFINITY);
    // The stand-in refused 9.6's start probe: the channel was judged on a token that no longer works.
    expect(api.calls.filter((c) => c.at > revokedAt && c.method === 'getMe').map((c) => c.status)).toContain(401);
    // What the operator reads: the warning under the update's steps (the CLI's output for people).
    expect(updated.stdout).toMatch(
      /warning: \(verify, NOT_READY\) not ready after the stability window, ready before: telegram \(\/readyz 503\); verified on health and version \(readiness: warn\)/,
    );
    const shown = await rs(['status']);
    const tx = shown.json?.result?.transaction;
    console.log(`status --json after the update:\n${JSON.stringify(tx, null, 2)}`);
    expect(tx).toMatchObject({ kind: 'update', from: FROM, to: TO, status: 'verified' });
    expect(shown.json.result.current).toBe(TO);
    expect(step(tx, 'verify')).toMatchObject({
      status: 'ok',
      evidence: { readiness: { before: [], after: ['telegram'], lost: ['telegram'] } },
    });
    expect(tx.warnings).toContainEqual({
      step: 'verify',
      code: 'NOT_READY',
      message: expect.stringContaining('ready before: telegram'),
    });
    const story = await human(['status']);
    expect(story.stdout).toContain('warning: (verify, NOT_READY) not ready after the stability window');
    // `list` says it of the release that activation verified, in JSON and for people.
    const listed = await rs(['list']);
    expect(listed.json.result.releases).toContainEqual(
      expect.objectContaining({
        version: TO,
        // Beside finalize's own warnings (its Doctor's advisories on this config).
        warnings: expect.arrayContaining([expect.objectContaining({ step: 'verify', code: 'NOT_READY' })]),
      }),
    );
    expect((await human(['list'])).stdout).toContain(`${TO}: warning: (verify, NOT_READY) not ready`);
    // The gateway's own word, asked again now: serving 9.6, started, its Telegram channel failing.
    expect((await openclawHealthy(um, { port, pid: old, timeoutMs: 60_000 })).version).toBe(TO);
    const after = await readyz();
    expect(after).toMatchObject({ status: 503, body: { ready: false, failing: ['telegram'] } });
  }, 1_800_000);

  it(`readiness: require — the same loss is a failed verification: rolled back, ${FROM} serves again and is ready`, async () => {
    // Back to 9.5 with a working token (a rollback judges no readiness), its channel ready again.
    api.ok();
    const back = await rs(['rollback']);
    expect(back.json?.result?.status, back.stdout + back.stderr).toBe('verified');
    expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 120_000 })).version).toBe(FROM);
    expect((await readyzUntil((r) => r.status === 200, 180_000)).body).toMatchObject({ ready: true, failing: [] });
    const init = await rs(['init', '--readiness', 'require']);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);

    // The token stops working once 9.5 has stopped, and works again once 9.6 has (so 9.5, brought back, can be ready).
    const old = await mainPid();
    let watching = true;
    let target: number | null = null;
    const tokenWatch = (async () => {
      if (
        (await mainPidUntil(
          (pid) => pid !== old,
          () => watching,
        )) === null
      )
        return;
      api.unauthorized();
      target = await mainPidUntil(
        (pid) => pid > 0 && pid !== old,
        () => watching,
      );
      if (target === null) return;
      if (
        (await mainPidUntil(
          (pid) => pid !== target,
          () => watching,
        )) !== null
      )
        api.ok();
    })();
    const updated = await rs(['switch', TO, '--no-preflight']);
    watching = false;
    await tokenWatch;
    const tx = updated.json?.result ?? updated.json?.error?.result;
    console.log(
      `switch, readiness: require (exit ${updated.exitCode}, load ${loadavg()[0]!.toFixed(1)}):\n${JSON.stringify(tx, null, 2)}`,
    );
    expect(target, `${TO} never started`).not.toBeNull();
    expect(updated.exitCode, updated.stdout + updated.stderr).toBe(3);
    expect(updated.json?.error?.code).toBe('ROLLED_BACK');
    expect(tx).toMatchObject({ from: FROM, to: TO, status: 'rolled_back', reason: 'not_ready' });
    expect(step(tx, 'verify')).toMatchObject({
      status: 'failed',
      detail: expect.stringContaining('ready before: telegram'),
      evidence: { readiness: { before: [], after: ['telegram'], lost: ['telegram'] } },
    });
    expect(tx.warnings ?? []).not.toContainEqual(expect.objectContaining({ code: 'NOT_READY' }));
    expect(step(tx, 'verify-previous')).toMatchObject({ status: 'ok' });
    // 9.5 serves again, a new process, and with the token working its channel is ready again.
    expect((await openclawHealthy(um, { port, pid: target, timeoutMs: 120_000 })).version).toBe(FROM);
    expect((await readyzUntil((r) => r.status === 200, 180_000)).body).toMatchObject({ ready: true, failing: [] });
    const shown = await rs(['status']);
    expect(shown.json.result.current).toBe(FROM);
    expect(shown.json.result.transaction).toMatchObject({ status: 'rolled_back', reason: 'not_ready' });
    const listed = await rs(['list']);
    expect(listed.json.result.releases).toContainEqual(expect.objectContaining({ version: TO, state: 'bad' }));
  }, 1_800_000);
});
