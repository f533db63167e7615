// OpenClaw's post-core step inside the transaction, on the real gateway (openclaw 2026.9.5 → 2026.9.6 from the registry,
// Node 24, its own unit adopted under a private systemd --user, external-supervisor mode): after the flip the old
// gateway is stopped, the state checkpointed, and the target's `update finalize --json --yes --no-restart` runs as step
// `finalize` with its JSON verdict, before the target first starts (config `finalizeAhead: false`: in the window, on the
// live state, the path an update takes when the state changed under a finalize run ahead).
// - a 9.6 repacked so that its finalize exits non-zero is rolled back, 9.5 verified, the state as it was;
// - a kill -9 of the runner while finalize runs: `recover` ends the orphaned finalize and 9.5 serves again;
// - update and rollback go through: finalize recorded on the update, not run again on the rollback (the snapshot put
//   back is what 9.5 finalized), the state after the rollback as before the update;
//   a chat turn streaming from a slow model when the update begins does not hold the old gateway (no drain wait: it
//   exits within seconds of the handoff request) and is resumed by 9.6 once it starts;
//   a real external plugin (@openclaw/matrix, installed on 9.5 the way users install it) is converged by 9.6's
//   finalize (9.5 -> 9.6, as `openclaw update` leaves it) and is 9.5 again after the rollback;
// - with the snapshot gone, the rollback onto the state 9.6 migrated is refused by 9.5's own `database preflight`
//   (`incompatible`) before anything changes: 9.6 serves on, same process; with the checkpoint's database damaged, the
//   same (9.5 judges the checkpoint's copy, `indeterminate`); the rollback that goes through judged the checkpoint's
//   shared and agent databases `exact`, and the way back after a failed finalize judged them before flipping back.
// One gateway for the whole file (cold starts are 9-20 s at idle, finalize 40-50 s under load).
// All of it as a normal account (issue 30): the user manager, the gateway, openclaw's CLI and release-switcher run as
// the suite's normal account (accounts.ts), on a root, a state dir and an npm cache it owns; only the test's own
// bookkeeping (files it plants, then hands to the account) is done as root.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { asAccount, defaultTestAccount } from '../support/accounts.ts';
import { CLI, accountCliEnv, cli, cliEnv, runnableBy } from '../support/cli.ts';
import {
  giveTo,
  openclawWork,
  OPENCLAW_UNIT as UNIT,
  REMOVE_TIMEOUT_MS,
  openclawBench,
  openclawHealthy,
  editRootConfig,
  finalizeProcesses,
  finalizeTops,
  outsideWatch,
  removeOpenclawBench,
  writeOpenclawService,
  openclawTmp,
  rootOpenclaw,
} from '../support/openclaw.ts';
import { copyOpenclaw, ownOpenclawNpmCache } from '../support/openclaw-prepared.ts';
import { repackFinalizeFails } from '../support/openclaw-repack.ts';
import { finalizeWarnings } from '../../src/service/finalize.ts';
import { freePort } from '../support/service.ts';
import { layoutProblems } from '../support/layout-schema.ts';
import { describeWhere } from '../support/skip.ts';
import { modelConfig, RESUMED_TURN, type SlowModel, startSlowModel } from '../support/slow-model.ts';
import { canRunUserManager, type UserManager } from '../support/systemd.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';
const BROKEN = '2026.9.6-finalize-fails';
const SHARED = '/work/shared-cache';
/** An official external plugin that installs without credentials; its releases follow openclaw's (cohort 2026.9.x). */
const PLUGIN = '@openclaw/matrix';
const PLUGIN_ID = 'matrix';
/** In the prompt of the chat turn in flight during the update, to find it (and its resumption) at the model. */
const TURN = 'RS-TURN-IN-FLIGHT';

type StepJson = { name: string; status: string; detail?: string; evidence?: any };

describeWhere(canRunUserManager(), 'update finalize inside the transaction (real openclaw, systemd --user)', () => {
  let um: UserManager;
  let port: number;
  let node: string;
  /** The gateway's default model: a token a second for 15 minutes, so a turn outlasts any drain we would accept. */
  let model: SlowModel;
  /** The normal account everything runs as (none where the suite cannot make accounts: then the test process's). */
  const account = defaultTestAccount();
  const work = openclawWork('rs-ocfin-', account);
  const root = path.join(work, 'root');
  let npmCache: string;
  /** A file of the gateway's state planted by the test: the account's, like everything else in its state. */
  const plant = async (file: string, text: string) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text, { mode: 0o600 });
    await giveTo(um.account, path.dirname(file));
  };
  const env = () => ({
    ...(um.env as Record<string, string>),
    // The state dir by a path no other gateway on the machine has (every bound HOME is /root by path, and openclaw
    // refuses a state dir it sees another running gateway use): the unit gets it too (drop-in below).
    OPENCLAW_STATE_DIR: state(),
    npm_config_cache: npmCache,
    npm_config_logs_dir: path.join(work, 'npm-logs'),
    ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
  });
  const rs = (args: string[], timeout = 1_200_000) => cli(['--root', root, '--json', ...args], { env: env(), timeout });
  const state = () => path.join(um.env.HOME!, '.openclaw');
  const mark = () => path.join(state(), 'credentials', 'rs-finalize.json');
  const sharedDb = () => path.join(state(), 'state', 'openclaw.sqlite');
  const agentDb = () => path.join(state(), 'agents', 'main', 'agent', 'openclaw-agent.sqlite');
  /** The `openclaw` command the root offers (`<root>/bin/openclaw`: the current release's CLI), as a user runs it. */
  const { openclawCli } = rootOpenclaw(
    () => um.account,
    root,
    () => ({ ...env(), TMPDIR: openclawTmp(um) }), // the gateway's temporary folder, not /tmp (openclawTmp)
    900_000,
  );
  /** The plugin as the current release sees it: `openclaw plugins inspect <id> --json`. */
  const pluginSeen = async () => {
    const inspected = await openclawCli(['plugins', 'inspect', PLUGIN_ID, '--json']);
    expect(inspected.exitCode, inspected.stdout.slice(-2000) + inspected.stderr.slice(-2000)).toBe(0);
    const json = inspected.stdout.indexOf('{');
    expect(
      json,
      `no JSON from plugins inspect: ${inspected.stdout.slice(-2000)}${inspected.stderr.slice(-2000)}`,
    ).toBeGreaterThanOrEqual(0);
    const plugin = JSON.parse(inspected.stdout.slice(json)).plugin;
    return { version: plugin.version, status: plugin.status, installSpec: plugin.trust?.installSpec };
  };
  const mainPid = async () => Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());
  const stepsOf = (result: any): StepJson[] => result?.steps ?? [];
  const step = (result: any, name: string) => stepsOf(result).find((s) => s.name === name);

  /**
   * 9.6 repacked so that its `update finalize` exits 1 with a `failed` verdict: a copy of the installed release (npm -g's
   * layout, so it is adopted as it stands: no second install from the registry), BROKEN in its package.json and
   * build-info (openclaw-repack.ts).
   */
  function repackBroken(): string {
    return repackFinalizeFails({
      from: path.join(root, 'releases', TO),
      into: path.join(work, 'repack', 'lib', 'node_modules', 'openclaw'),
      version: BROKEN,
    });
  }

  beforeAll(async () => {
    console.log(`load average at start: ${loadavg()[0]!.toFixed(1)}`);
    // A copy of a prepared npm -g prefix (the gateway runs from it, and adopt takes it): the team's shared one, else
    // the tier's, installed once per machine (openclaw-prepared.ts); a copy takes ~10 s, an install of its own 60-85 s.
    if (!process.env.OPENCLAW_PREFIX) {
      const shared = path.join(SHARED, `oc-${FROM}`);
      process.env.OPENCLAW_PREFIX = path.join(work, 'prefix');
      if (existsSync(shared)) execFileSync('cp', ['-a', shared, process.env.OPENCLAW_PREFIX]);
      else await copyOpenclaw(FROM, process.env.OPENCLAW_PREFIX, { link: true });
    }
    npmCache = await ownOpenclawNpmCache(work, account); // after the prefix: its install is what fills the cache
    const bench = await openclawBench({ name: 'ocfin', work, version: FROM, account });
    ({ node, um } = bench);
    port = await freePort();
    model = await startSlowModel({ tokens: 900, intervalMs: 1000, model: 'slow-1' });
    await writeOpenclawService(um, { node, prefix: bench.prefix, port, config: modelConfig(model, 'slow-1') });
    mkdirSync(path.join(um.unitDir, `${UNIT}.d`), { recursive: true });
    writeFileSync(
      path.join(um.unitDir, `${UNIT}.d`, 'state-dir.conf'),
      `[Service]\nEnvironment=OPENCLAW_STATE_DIR=${state()}\n`,
    );
    await giveTo(um.account, path.join(um.unitDir, `${UNIT}.d`)); // unit --install writes its drop-in beside it
    expect((await um.systemctl(['daemon-reload'])).exitCode).toBe(0);
    expect((await um.systemctl(['start', UNIT])).exitCode).toBe(0);
    await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 });
    const openclaw = path.join(bench.prefix, 'lib', 'node_modules', 'openclaw');
    const init = await rs(['init', '--preset', 'openclaw', '--adopt', openclaw, '--node', node, '--unit', UNIT]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    // This file's subject is finalize in the stop window, on the live state (finalize-ahead.openclaw.test.ts has it
    // run ahead, on a copy): the path an update still takes when the live state changed under the copy.
    await editRootConfig(root, { finalizeAhead: false }, account);
    expect((await rs(['unit', '--install'])).exitCode).toBe(0);
    const pid = Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());
    expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
    expect((await openclawHealthy(um, { port, pid, timeoutMs: 300_000 })).version).toBe(FROM);
    // The way users install it, from the registry: 9.5 picks the newest release compatible with itself (9.5).
    const plugin = await openclawCli(['plugins', 'install', PLUGIN]);
    console.log(
      `${PLUGIN} installed on ${FROM} (exit ${plugin.exitCode}): ${plugin.stdout.slice(-600)}${plugin.stderr.slice(-600)}`,
    );
    expect(plugin.exitCode, plugin.stdout.slice(-2000) + plugin.stderr.slice(-2000)).toBe(0);
    expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded', installSpec: PLUGIN });
    const installed = await rs(['install', `openclaw@${TO}`]);
    expect(installed.exitCode, installed.stdout.slice(-2000) + installed.stderr.slice(-2000)).toBe(0);
    const broken = await rs(['init', '--adopt', repackBroken()]);
    expect(broken.exitCode, broken.stdout + broken.stderr).toBe(0);
    await plant(mark(), '{"era":"9.5"}\n');
  }, 2_400_000);

  afterAll(async () => {
    await model?.close();
    await removeOpenclawBench(um, work);
  }, REMOVE_TIMEOUT_MS);

  it(`a ${TO} whose finalize fails is rolled back before it serves: ${FROM} verified, the state as it was`, async () => {
    const switched = await rs(['switch', BROKEN, '--no-preflight']);
    const tx = switched.json?.result ?? switched.json?.error?.result;
    console.log(
      `switch to ${BROKEN} (exit ${switched.exitCode}, load ${loadavg()[0]!.toFixed(1)}):\n${JSON.stringify(tx, null, 2)}`,
    );
    expect(tx?.status, switched.stdout + switched.stderr).toBe('rolled_back');
    expect(tx.reason).toBe('finalize_failed');
    expect(step(tx, 'finalize')).toMatchObject({
      status: 'failed',
      evidence: { verdict: { status: 'failed', exitCode: 1 } },
    });
    // The first time 9.5 is left: its CLI is asked what it speaks, and the answer kept with the release.
    expect(step(tx, 'restart-handoff')).toMatchObject({
      status: 'ok',
      evidence: { accepted: true, capabilities: 'asked' },
    });
    // Never started: no `restart` of the target, straight back.
    expect(stepsOf(tx).map((s) => s.name)).not.toContain('restart');
    expect(step(tx, 'verify-previous')).toMatchObject({ status: 'ok' });
    // Before going back, 9.5's own preflight judged the state it was about to start with: the checkpoint put back.
    const wayBack = step(tx, 'database-preflight-previous');
    expect(wayBack, JSON.stringify(tx.steps)).toMatchObject({ status: 'ok' });
    expect(wayBack.evidence.verdicts).toContainEqual(
      expect.objectContaining({ database: sharedDb(), status: 'exact', checkpoint: tx.id }),
    );
    for (const verdict of wayBack.evidence.verdicts)
      expect(verdict).toMatchObject({ status: 'exact', checkpoint: tx.id });
    expect(
      stepsOf(tx)
        .map((s) => s.name)
        .indexOf('database-preflight-previous'),
    ).toBeLessThan(
      stepsOf(tx)
        .map((s) => s.name)
        .indexOf('rollback'),
    );
    expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 120_000 })).version).toBe(FROM);
    expect(readFileSync(mark(), 'utf8')).toBe('{"era":"9.5"}\n');
    expect((await rs(['status'])).json.result.current).toBe(FROM);
    expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded', installSpec: PLUGIN });
  }, 1_200_000);

  it(`kill -9 of the runner while ${TO}'s finalize runs: recover ends it and ${FROM} serves again`, async () => {
    // The runner as the account runs it (setpriv execs it: the pid killed below is the CLI's own).
    const who = um.account;
    const args = ['--root', root, '--json', 'switch', TO, '--no-preflight'];
    const [command, argv] = who
      ? asAccount(who, runnableBy(who).node, [runnableBy(who).cli, ...args])
      : [process.execPath, [CLI, ...args]];
    const runner = execa(command, argv, {
      env: who ? accountCliEnv(who, env()) : cliEnv(env()),
      extendEnv: false,
      reject: false,
    });
    const deadline = Date.now() + 600_000;
    let orphans = finalizeProcesses(state());
    while (orphans.length === 0) {
      if (Date.now() > deadline || runner.exitCode !== null) throw new Error('finalize never started');
      await new Promise((r) => setTimeout(r, 200)); // polling for the process, not a timed wait
      orphans = finalizeProcesses(state());
    }
    // The finalize's own processes (finalizeTops: its children come and go on their own), found before the kill.
    const own = finalizeTops(orphans);
    runner.kill('SIGKILL');
    expect(own).not.toEqual([]);
    expect((await runner).signal).toBe('SIGKILL');
    expect(finalizeProcesses(state()), 'the finalize outlives the runner').toEqual(expect.arrayContaining(own));
    // As an operator reads it (the human output lists what recovery did; the transaction is read with status below).
    const recovered = await cli(['--root', root, 'recover'], { env: env(), timeout: 1_200_000 });
    console.log(`recover after the kill (load ${loadavg()[0]!.toFixed(1)}):\n${recovered.stdout}${recovered.stderr}`);
    expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
    expect(recovered.stdout).toContain(`ended the update finalize of ${TO}`);
    expect(finalizeProcesses(state())).toEqual([]);
    const tx = (await rs(['status'])).json.result.transaction;
    expect(tx).toMatchObject({ status: 'rolled_back', reason: 'finalize_interrupted', to: TO });
    expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 120_000 })).version).toBe(FROM);
    expect(readFileSync(mark(), 'utf8')).toBe('{"era":"9.5"}\n');
    // Whatever the cut finalize had done to the plugins went with the state it wrote.
    expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded', installSpec: PLUGIN });
  }, 1_200_000);

  it(`update to ${TO} and rollback: finalize recorded on the update, skipped on the exact restore, the state after the rollback as before`, async () => {
    // A chat turn in flight on 9.5 (a user's message through the gateway, the model still streaming its answer).
    const turn = openclawCli(['agent', '--agent', 'main', '--message', `${TURN}: count for me`, '--json']);
    const inFlight = await model.waitFor((r) => r.stream && r.text.includes(TURN), 300_000);
    // The rehearsal is not the subject here (and on a loaded machine a cold start of its candidate is long).
    const watch = outsideWatch(port);
    const updated = await rs(['update', `openclaw@${TO}`, '--no-preflight']);
    const seen = await watch.stop();
    console.log(`update (load ${loadavg()[0]!.toFixed(1)}):\n${JSON.stringify(updated.json?.result, null, 2)}`);
    expect(updated.json?.result?.status, updated.stdout + updated.stderr).toBe('verified');
    // No drain wait for the turn (it had 15 minutes to go: a plain restart or a SIGTERM would have waited 300 s), and
    // 9.6 resumes it from the transcript: a new request for it reaches the model after the old one was cut.
    const handoff = step(updated.json.result, 'restart-handoff');
    expect(handoff?.evidence?.exitedAfterMs).toBeLessThan(120_000);
    expect(inFlight.ended).toBe('aborted');
    const resumed = await model.waitFor(
      (r) =>
        r.stream &&
        r.at > (inFlight.endedAt ?? Number.POSITIVE_INFINITY) &&
        r.text.includes(TURN) &&
        RESUMED_TURN.test(r.text),
      300_000,
    );
    console.log(
      `turn in flight: cut after ${inFlight.tokensSent} tokens, the old gateway exited ${handoff.evidence.exitedAfterMs} ms after the request; resumed as request ${resumed.id} (${resumed.messages} messages)`,
    );
    // The turn answered: what follows (the refused rollback, the rollback) starts from a gateway with no turn running,
    // as before this case had one.
    model.finishStreams();
    expect((await model.waitFor((r) => r === resumed && r.ended !== undefined, 120_000)).ended).toBe('done');
    turn.kill();
    const names = stepsOf(updated.json.result).map((s) => s.name);
    expect(names.indexOf('finalize')).toBeGreaterThan(names.indexOf('flip'));
    expect(names.indexOf('finalize')).toBeLessThan(names.indexOf('restart'));
    expect(step(updated.json.result, 'finalize')).toMatchObject({
      status: 'ok',
      evidence: { verdict: { ok: true, exitCode: 0, status: expect.stringMatching(/^(ok|warning)$/) } },
    });
    // The state databases judged by 9.6, the old gateway handed over and consumed: the shared one (9.6 migrates 9.5's:
    // 17 → 18) and the agent's the turn wrote (21 → 23: 9.6's preflight-agent says incompatible, found older, which
    // its Doctor migrates in finalize), each by its own command.
    expect(step(updated.json.result, 'database-preflight')?.evidence?.verdicts).toEqual([
      expect.objectContaining({ database: agentDb(), agentId: 'main', status: 'migration-required', foundVersion: 21 }),
      expect.objectContaining({ database: sharedDb(), status: 'migration-required', foundVersion: 17 }),
    ]);
    // 9.5 answered the capability probe in the first case's switch: this one does not ask its CLI again. The answer
    // is kept in the journal, which still matches its published schema.
    expect(step(updated.json.result, 'restart-handoff')).toMatchObject({
      status: 'ok',
      evidence: { accepted: true, capabilities: 'recorded' },
    });
    const journal = JSON.parse(readFileSync(path.join(root, 'state.json'), 'utf8'));
    expect(journal.releases[FROM].restartHandoff).toBe(1);
    expect(layoutProblems('state', journal)).toEqual([]);
    expect(existsSync(path.join(root, 'snapshots', updated.json.result.id))).toBe(true);
    // What OpenClaw's own `update status` says after an update we ran (finalize records its run in OpenClaw's ledger).
    const ownStatus = await openclawCli(['update', 'status', '--json']);
    console.log(`openclaw update status --json (exit ${ownStatus.exitCode}):\n${ownStatus.stdout.slice(-3000)}`);
    // Its last run is the finalize this update ran (OpenClaw records it in its own update ledger): the phases it did.
    expect(ownStatus.exitCode, ownStatus.stderr.slice(-2000)).toBe(0);
    expect(ownStatus.stdout).toContain('"step": "finalize:doctor"');
    // Where the outage went, from the handoff request to 9.6's first healthy answer, in contiguous parts.
    const window = updated.json.result.window;
    console.log(`update's stop window: ${JSON.stringify(window)}`);
    expect(window.parts.map((p: { part: string }) => p.part)).toEqual([
      'handoff',
      'stop',
      'consume',
      'checkpoint',
      'finalize',
      'start',
      'start-to-healthy',
    ]);
    const partsSum = window.parts.reduce((sum: number, p: { ms: number }) => sum + p.ms, 0);
    expect(Math.abs(partsSum - window.totalMs)).toBeLessThanOrEqual(window.parts.length);
    // The window is the outage a monitor sees from outside, within a second (each side polls every 100 ms).
    console.log(`update: outage seen from outside ${Math.round(seen.unavailableMs)} ms, window ${window.totalMs} ms`);
    expect(Math.abs(Math.round(seen.unavailableMs) - window.totalMs)).toBeLessThanOrEqual(1_000);
    expect(window.parts[4].ms).toBeGreaterThanOrEqual(step(updated.json.result, 'finalize').evidence.verdict.ms);
    // The plugin converged by 9.6's finalize, as `openclaw update` leaves it: its cohort's release, same install spec.
    expect(step(updated.json.result, 'finalize')?.evidence?.verdict?.plugins?.npm?.outcomes).toContainEqual(
      expect.objectContaining({ pluginId: PLUGIN_ID, status: 'updated', currentVersion: FROM, nextVersion: TO }),
    );
    expect(await pluginSeen()).toEqual({ version: TO, status: 'loaded', installSpec: PLUGIN });
    // Its package was fetched into npm's cache while 9.5 still served (finalize then installed it from there).
    expect(step(updated.json.result, 'finalize')?.evidence?.prefetch).toMatchObject({
      ok: true,
      specs: [`${PLUGIN}@${TO}`],
    });
    // Finalize's warnings are the transaction's, not only its step's evidence (status, list and the CLI show them):
    // the model's API key is plain text in this test's openclaw.json, which 9.6's Doctor warns of.
    const verdict = step(updated.json.result, 'finalize')?.evidence?.verdict;
    const warnings: { step: string; code?: string }[] = updated.json.result.warnings;
    expect(warnings.filter((w) => w.step === 'finalize')).toEqual(finalizeWarnings(verdict));
    // Any other is the verification's own readiness warning (a /readyz that gave no answer on a loaded machine).
    expect(warnings.filter((w) => w.step !== 'finalize')).toEqual(
      warnings.filter((w) => w.step === 'verify' && w.code === 'NOT_READY'),
    );
    expect(updated.json.result.warnings).toContainEqual(
      expect.objectContaining({ step: 'finalize', message: expect.stringContaining('plaintext secret-bearing') }),
    );
    expect((await rs(['status'])).json.result.transaction.warnings).toEqual(updated.json.result.warnings);
    await plant(mark(), '{"era":"9.6"}\n');

    // No snapshot from before 9.6 first started (set aside, as one lost or deleted): 9.5's own database preflight
    // calls the state 9.6 migrated incompatible, and the rollback is refused before anything changes.
    const snapshots = path.join(root, 'snapshots');
    const aside = path.join(work, 'snapshots-aside');
    mkdirSync(aside, { recursive: true });
    const taken = readdirSync(snapshots).filter((name) => !name.startsWith('.'));
    for (const name of taken) renameSync(path.join(snapshots, name), path.join(aside, name));
    const serving = await mainPid();
    const refused = await rs(['rollback']);
    console.log(`rollback without a snapshot (exit ${refused.exitCode}):\n${JSON.stringify(refused.json, null, 2)}`);
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(1);
    expect(refused.json?.error?.code).toBe('DATABASE_INCOMPATIBLE');
    expect(refused.json.error.message).toMatch(/incompatible/);
    expect(await mainPid()).toBe(serving); // never stopped nor restarted
    expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 60_000 })).version).toBe(TO);
    expect((await rs(['status'])).json.result.current).toBe(TO);
    expect(readFileSync(mark(), 'utf8')).toBe('{"era":"9.6"}\n');
    for (const name of taken) renameSync(path.join(aside, name), path.join(snapshots, name));

    // The checkpoint that would go back holds a database 9.5 cannot read (damaged here): the rollback is refused by
    // 9.5's preflight of the checkpoint's copy, before anything stops, not discovered by a gateway that will not start.
    const stored = path.join(snapshots, updated.json.result.id, 'data', '0', 'state', 'openclaw.sqlite');
    const good = readFileSync(stored);
    writeFileSync(stored, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 0xff)]));
    const damaged = await rs(['rollback']);
    console.log(
      `rollback onto a damaged checkpoint (exit ${damaged.exitCode}):\n${JSON.stringify(damaged.json, null, 2)}`,
    );
    writeFileSync(stored, good);
    expect(damaged.exitCode, damaged.stdout + damaged.stderr).toBe(1);
    expect(damaged.json?.error?.code).toBe('DATABASE_INCOMPATIBLE');
    expect(step(damaged.json.result, 'database-preflight')?.evidence?.verdicts).toContainEqual(
      expect.objectContaining({ database: sharedDb(), status: 'indeterminate', checkpoint: updated.json.result.id }),
    );
    expect(await mainPid()).toBe(serving);
    expect((await rs(['status'])).json.result.current).toBe(TO);
    expect(readFileSync(mark(), 'utf8')).toBe('{"era":"9.6"}\n');

    const watchBack = outsideWatch(port);
    const back = await rs(['rollback']);
    const seenBack = await watchBack.stop();
    console.log(`rollback (load ${loadavg()[0]!.toFixed(1)}):\n${JSON.stringify(back.json?.result, null, 2)}`);
    expect(back.json?.result?.status, back.stdout + back.stderr).toBe('verified');
    // The snapshot put back is the state 9.5 finalized and served with: its finalize is not run again in the window.
    expect(step(back.json.result, 'finalize')).toMatchObject({
      status: 'skipped',
      detail: expect.stringContaining(`was taken when ${FROM} was left`),
    });
    expect(step(back.json.result, 'finalize')?.evidence?.verdict).toBeUndefined();
    expect(step(back.json.result, 'finalize')?.evidence?.prefetch).toBeUndefined(); // the snapshot brings the plugins
    // Made ready while 9.6 served and swapped in by rename in the window; what 9.6 left is kept as a checkpoint.
    const setAside = `${back.json.result.id}-aside`;
    expect(step(back.json.result, 'restore-state')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(
        new RegExp(
          `1 folder\\(s\\) made ready before the stop .*swapped in by rename.*the state ${TO.replaceAll('.', '\\.')} left is kept as checkpoint ${setAside}$`,
        ),
      ),
    });
    expect(back.json.result.snapshot).toBe(setAside);
    const kept = JSON.parse(readFileSync(path.join(root, 'snapshots', setAside, 'snapshot.json'), 'utf8'));
    expect(kept).toMatchObject({ setAsideBy: back.json.result.id, fromVersion: TO, toVersion: FROM });
    expect(
      readFileSync(
        path.join(root, 'snapshots', setAside, kept.entries[0].stored, path.relative(state(), mark())),
        'utf8',
      ),
    ).toBe('{"era":"9.6"}\n');
    console.log(`rollback's stop window: ${JSON.stringify(back.json.result.window)}`);
    console.log(
      `rollback: outage seen from outside ${Math.round(seenBack.unavailableMs)} ms, window ${back.json.result.window.totalMs} ms`,
    );
    expect(
      Math.abs(Math.round(seenBack.unavailableMs) - back.json.result.window.totalMs),
      `outside: from ${Math.round(seenBack.fromMs)} to ${Math.round(seenBack.toMs)} ms of the watch; the manager's log:\n${(await um.readLog()).slice(-6000)}`,
    ).toBeLessThanOrEqual(1_000);
    // No consume in the window: the handoff was written in the state the checkpoint replaces (set aside), which 9.5
    // never reads.
    expect(back.json.result.window.parts.map((p: { part: string }) => p.part)).toEqual([
      'handoff',
      'stop',
      'checkpoint',
      'start',
      'start-to-healthy',
    ]);
    // 9.5 judged the state it started with, the checkpoint's copies (its own 9.5 databases), not the live ones 9.6 wrote.
    expect(step(back.json.result, 'database-preflight')?.evidence?.verdicts).toEqual([
      expect.objectContaining({
        database: agentDb(),
        agentId: 'main',
        status: 'exact',
        checkpoint: updated.json.result.id,
      }),
      expect.objectContaining({ database: sharedDb(), status: 'exact', checkpoint: updated.json.result.id }),
    ]);
    expect(step(back.json.result, 'restart-handoff')).toMatchObject({
      status: 'ok',
      evidence: { accepted: false, consume: null, unconsumed: 'state-replaced', exitedAfterMs: expect.any(Number) },
      detail: expect.stringMatching(/exited \d+ ms after the request; its handoff is left unconsumed: .*\(set aside\)/),
    });
    expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 120_000 })).version).toBe(FROM);
    expect(readFileSync(mark(), 'utf8')).toBe('{"era":"9.5"}\n');
    expect(await pluginSeen()).toEqual({ version: FROM, status: 'loaded', installSpec: PLUGIN });
  }, 1_800_000);
});
