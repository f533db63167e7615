// `update.channel: "beta"` in the user's openclaw.json decides what `release-switcher update` (no version) takes, on
// the real gateway (openclaw 2026.9.5 on Node 24, its own unit adopted under a private systemd --user, as the suite's
// normal account). The public registry has only `latest` for openclaw, so a real Verdaccio on loopback serves the real
// 2026.9.5 and 2026.9.6 tarballs (npm's own bytes) under the name `openclaw` and proxies every other name (their
// dependencies) to registry.npmjs.org; the CLI finds it through the npm config in its environment. OpenClaw's rule
// (docs/install/development-channels.md): beta is the newer of the `beta` and `latest` dist-tags.
// Each `update --dry-run` names the channel and the file that chose it, and OpenClaw's own `openclaw update --dry-run`
// (from 9.5's npm -g install the gateway was adopted from, same registry and config) is asked the same question:
// - on 9.5, beta 9.5 older than latest 9.6: the plan is latest's 9.6 (a rule that read beta alone would plan nothing),
//   OpenClaw's target too, with its note that beta falls back to latest;
// - latest 9.5, beta 9.6: the plan is 9.6 from the local registry, OpenClaw's target too (no fallback); then `update`
//   stages 9.6, switches and verifies it, the gateway healthy on 9.6;
// - beta moved back to 9.5, latest 9.6: the newer, latest's 9.6, is already current: `up_to_date`, the gateway not
//   restarted (a rule that read beta alone would plan a downgrade to 9.5). OpenClaw's 9.5 is not asked here: it
//   refuses the state 9.6 migrated.
// One gateway for the file: one cold start on 9.5, one on 9.6 (and 9.6's rehearsal).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { asAccount, defaultTestAccount } from '../support/accounts.ts';
import { accountCliEnv, accountCwd, cli, cliEnv } from '../support/cli.ts';
import {
  accountNpmCache,
  adoptRunningGateway,
  openclawCliEnv,
  giveTo,
  OPENCLAW_UNIT as UNIT,
  openclawBench,
  openclawHealthy,
  openclawWork,
  REMOVE_TIMEOUT_MS,
  removeOpenclawBench,
  SHORT_WINDOWS,
  writeOpenclawService,
} from '../support/openclaw.ts';
import { copyOpenclaw, openclawNpmCache } from '../support/openclaw-prepared.ts';
import { addDistTag, npm, publish, type Registry, startRegistry } from '../support/registry.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, type UserManager } from '../support/systemd.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';
/** Where npm's cache has the tarballs from (the prepared installs' registry): packed offline when it holds them. */
const NPMJS = 'https://registry.npmjs.org/';
/** OpenClaw's dry-run note when beta's tag is missing or older than latest's (update-command-schema). */
const FALLBACK = 'Beta channel resolves to latest for this run (fallback).';

describeWhere(canRunUserManager(), 'update follows update.channel beta (real openclaw, local registry)', () => {
  let um: UserManager;
  let port: number;
  let registry: Registry;
  let npmCache: string;
  /** The npm -g prefix 9.5 was installed into (the gateway's first home, adopted from). */
  let prefix: string;
  let node: string;
  const account = defaultTestAccount();
  const work = openclawWork('rs-ocbeta-', account);
  const root = path.join(work, 'root');
  const state = () => path.join(um.env.HOME!, '.openclaw');
  const config = () => path.join(state(), 'openclaw.json');
  const env = () => openclawCliEnv(um, { npmCache, work }, { npm_config_registry: registry.url });
  const rs = (args: string[], timeout = 1_200_000) => cli(['--root', root, '--json', ...args], { env: env(), timeout });
  const mainPid = async () => Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());
  const distTags = async () =>
    (await (await fetch(new URL('-/package/openclaw/dist-tags', registry.url))).json()) as Record<string, string>;
  /**
   * OpenClaw's own `update --dry-run --json`, from the npm -g install the gateway was adopted from (9.5; from the root
   * it refuses: a release-switcher install is not its to update), on the same registry, config and state dir. Not
   * the worker's environment: with VITEST set, openclaw's CLI exits 0 at once and prints nothing.
   */
  const openclawPlan = async () => {
    const bin = path.join(prefix, 'bin', 'openclaw');
    const args = ['update', '--dry-run', '--json'];
    const [command, argv] = um.account ? asAccount(um.account, bin, args) : [bin, args];
    const extra = { ...env(), npm_config_prefix: prefix, PATH: `${path.dirname(node)}:${process.env.PATH}` };
    const r = await execa(command, argv, {
      env: um.account ? accountCliEnv(um.account, extra) : cliEnv(extra),
      cwd: um.account ? accountCwd(um.account) : undefined, // the account's own folder, not the test process's checkout
      extendEnv: false,
      reject: false,
      timeout: 300_000,
    });
    console.log(
      `openclaw update --dry-run --json (exit ${r.exitCode}):\n${r.stdout.slice(-3000)}${r.stderr.slice(-2000)}`,
    );
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
    return JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
  };

  beforeAll(async () => {
    // npm's cache, warm with openclaw and its dependencies: a copy the account owns (root: the run's own).
    const prepared = await openclawNpmCache(work);
    npmCache = prepared.startsWith(`${work}/`) ? prepared : await accountNpmCache(work, prepared, account);
    // The real tarballs, as npm's registry serves them (from the cache when it has them), published here as openclaw.
    const tarballs = path.join(work, 'tarballs');
    mkdirSync(tarballs);
    for (const version of [FROM, TO])
      await npm(
        ['pack', `${NPMJS}openclaw/-/openclaw-${version}.tgz`, '--prefer-offline', '--pack-destination', tarballs],
        {
          cache: npmCache,
          timeout: 600_000,
        },
      );
    await giveTo(account, npmCache); // after the packs, which ran as root in it
    registry = await startRegistry({ storageDir: path.join(work, 'verdaccio'), proxy: { local: ['openclaw'] } });
    await publish(path.join(tarballs, `openclaw-${FROM}.tgz`), { registry: registry.url, tag: 'latest' });
    await publish(path.join(tarballs, `openclaw-${TO}.tgz`), { registry: registry.url, tag: 'beta' });
    expect(await distTags()).toEqual({ latest: FROM, beta: TO });

    // The gateway on 9.5, from a copy of the prepared npm -g prefix; the user's config follows the beta channel.
    const copy = await copyOpenclaw(FROM, path.join(work, 'prefix'), { link: true });
    const bench = await openclawBench({ name: 'ocbeta', work, version: FROM, prefix: copy, account });
    ({ um, prefix, node } = bench);
    port = await freePort();
    await writeOpenclawService(um, {
      node: bench.node,
      prefix: bench.prefix,
      port,
      ownStateDir: true,
      config: "update: { channel: 'beta' },",
    });
    const init = await adoptRunningGateway(um, {
      rs,
      node: bench.node,
      prefix: bench.prefix,
      port,
      version: FROM,
      init: SHORT_WINDOWS,
    });
    expect(JSON.parse(init.stdout).result.config.channel).toBeNull(); // no channel of its own: the service's
  }, 2_400_000);

  afterAll(async () => {
    await registry?.close();
    await removeOpenclawBench(um, work);
  }, REMOVE_TIMEOUT_MS);

  /** Points latest and beta at these versions on the local registry. */
  const tag = async (tags: { latest: string; beta: string }) => {
    await addDistTag(`openclaw@${tags.latest}`, 'latest', { registry: registry.url });
    await addDistTag(`openclaw@${tags.beta}`, 'beta', { registry: registry.url });
    expect(await distTags()).toEqual(tags);
  };
  /** `update --dry-run`'s plan, which must name the channel and the file that chose it. */
  const plannedUpdate = async () => {
    const planned = await rs(['update', '--dry-run']);
    console.log(`update --dry-run: ${JSON.stringify(planned.json?.result)}`);
    expect(planned.exitCode, planned.stdout + planned.stderr).toBe(0);
    expect(planned.json.result).toMatchObject({ channel: 'beta', channelFrom: `${config()} update.channel` });
    return planned.json.result;
  };

  it(`beta (${FROM}) older than latest (${TO}): the plan is latest's ${TO}, as OpenClaw's own dry-run (its fallback)`, async () => {
    const checked = await rs(['check']);
    expect(checked.json?.result, checked.stdout + checked.stderr).toMatchObject({
      channel: 'beta',
      channelFrom: `${config()} update.channel`,
    });
    await tag({ latest: TO, beta: FROM });
    // A rule that read beta alone would find 9.5 current and plan nothing.
    expect(await plannedUpdate()).toMatchObject({ install: { version: TO }, action: 'switch', wouldSwitch: true });
    // OpenClaw's own updater (9.5 from the state it can still read: before the update) on the same registry and config.
    const own = await openclawPlan();
    expect(own).toMatchObject({
      storedChannel: 'beta',
      effectiveChannel: 'beta',
      currentVersion: FROM,
      targetVersion: TO,
    });
    expect(own.notes).toContain(FALLBACK);
  }, 600_000);

  it(`beta (${TO}) newer than latest (${FROM}): update stages and verifies ${TO}, the gateway healthy on it`, async () => {
    await tag({ latest: FROM, beta: TO });
    expect(await plannedUpdate()).toMatchObject({
      install: { version: TO, from: new URL(`openclaw/-/openclaw-${TO}.tgz`, registry.url).href },
      wouldSwitch: true,
    });
    // OpenClaw's own updater picks the same target: beta's, no fallback to latest.
    const own = await openclawPlan();
    expect(own).toMatchObject({ storedChannel: 'beta', effectiveChannel: 'beta', targetVersion: TO });
    expect(own.notes ?? []).not.toContain(FALLBACK);

    const pid = await mainPid();
    const updated = await rs(['update']);
    console.log(`update: ${JSON.stringify(updated.json?.result ?? updated.json?.error, null, 2)}`);
    expect(updated.json?.result?.status, updated.stdout.slice(-3000) + updated.stderr.slice(-3000)).toBe('verified');
    expect(updated.json.result).toMatchObject({ kind: 'update', from: FROM, to: TO });
    expect((await openclawHealthy(um, { port, pid, timeoutMs: 120_000 })).version).toBe(TO);
    expect((await rs(['status'])).json.result.current).toBe(TO);
  }, 1_800_000);

  it(`beta moved back to ${FROM}, older than latest (${TO}): latest's ${TO} is already current, nothing restarted`, async () => {
    await tag({ latest: TO, beta: FROM });
    expect(await plannedUpdate()).toMatchObject({ install: { version: TO }, action: 'up_to_date', wouldSwitch: false });
    const pid = await mainPid();
    const updated = await rs(['update']);
    console.log(`update: ${JSON.stringify(updated.json?.result ?? updated.json?.error, null, 2)}`);
    expect(updated.exitCode, updated.stdout.slice(-3000) + updated.stderr.slice(-3000)).toBe(0);
    expect(updated.json.result).toMatchObject({ kind: 'update', status: 'up_to_date', from: TO, to: TO, steps: [] });
    expect(await mainPid()).toBe(pid);
    expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 60_000 })).version).toBe(TO);
    expect((await rs(['status'])).json.result.current).toBe(TO);
  }, 900_000);
});
