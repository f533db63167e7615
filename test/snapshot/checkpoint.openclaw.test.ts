// The whole openclaw state dir checkpointed, on the real gateway (openclaw 2026.9.5 → 2026.9.6 under a private
// systemd --user, `init --preset openclaw --state-path ~/.openclaw`, as a careful operator would, with a variable of its
// own in the rehearsal's environment, so that the rehearsal itself runs on its private copy). Seen before: every
// update was refused (PREFLIGHT_FAILED, "Another gateway (pid N) already owns this state directory") and 9.6 marked
// bad, because the rehearsal's private copy carried the live gateway's lock. Now: the update is rehearsed and
// verified, no copy ever holds the live lock, and the rollback brings back exactly the 9.5-era state: what 9.6 wrote
// (a plugin folder, a credentials file) gone, the 9.5-era ones back byte for byte. And a rollback killed (kill -9)
// in the middle of putting the checkpoint back by rename, with the gateway stopped: `recover` finishes the swap and
// brings 9.5 back on exactly its state (issue 31).
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, type UserManager } from '../support/systemd.ts';
import {
  OPENCLAW_UNIT as UNIT,
  SHORT_WINDOWS,
  editRootConfig,
  openclawBench,
  openclawHealthy,
  prepClock,
  privateStateLocks,
  REMOVE_TIMEOUT_MS,
  removeOpenclawBench,
  writeOpenclawService,
} from '../support/openclaw.ts';
import { copyOpenclaw, openclawNpmCache } from '../support/openclaw-prepared.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';

/** Every file under `dir` (relative), skipping nothing. */
function filesUnder(dir: string, rel = ''): string[] {
  if (!existsSync(path.join(dir, rel))) return [];
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(dir, path.join(rel, e.name)) : [path.join(rel, e.name)],
  );
}

const isLock = (f: string) => /\.lock(\.sqlite)?(-wal|-shm|-journal)?$/.test(f);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describeWhere(canRunUserManager(), 'the whole openclaw state dir, checkpointed (real openclaw, systemd --user)', () => {
  let um: UserManager;
  let port: number;
  const work = mkdtempSync(path.join(tmpdir(), 'rs-oc-ckpt-'));
  const root = path.join(work, 'root');
  // A copy of the prepared npm cache where there is one (never written in place), else one kept across the run.
  let npmCache: string;
  // The CA bundle too: the CLI's environment is otherwise the manager's, and the registry may sit behind a TLS proxy.
  const env = () => ({
    ...(um.env as Record<string, string>),
    npm_config_cache: npmCache,
    npm_config_logs_dir: path.join(work, 'npm-logs'),
    ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
  });
  const rs = (args: string[], timeout = 900_000, extra: Record<string, string> = {}) =>
    cli(['--root', root, '--json', ...args], { env: { ...env(), ...extra }, timeout, as: null });
  const state = () => path.join(um.env.HOME!, '.openclaw');

  beforeAll(async () => {
    const lap = prepClock('checkpoint');
    npmCache = await openclawNpmCache(work);
    // The gateway first runs from the npm -g prefix: a copy of the prepared one (one install per machine).
    const copy = await copyOpenclaw(FROM, path.join(work, 'prefix'), { link: true });
    const { node, prefix, um: manager } = await openclawBench({ name: 'occkpt', work, version: FROM, prefix: copy });
    um = manager;
    lap('prefix copied, npm cache, manager');
    await privateStateLocks(um); // its /root/.openclaw is every root gateway's by path (gateway.ts says why)
    port = await freePort();
    await writeOpenclawService(um, { node, prefix, port });
    expect((await um.systemctl(['start', UNIT])).exitCode).toBe(0);
    await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 });
    lap("first start on openclaw's unit");
    const openclaw = path.join(prefix, 'lib', 'node_modules', 'openclaw');
    const init = await rs([
      'init',
      ...['--preset', 'openclaw', '--adopt', openclaw, '--node', node, '--unit', UNIT],
      ...SHORT_WINDOWS,
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    // As the operator of the report did: the whole state dir, named explicitly.
    expect((await rs(['init', '--state-path', '~/.openclaw'])).exitCode).toBe(0);
    // And a rehearsal of its own: one more variable in the preset's rehearsal environment (config.json
    // "preflightEnv"). The preset's own would be stood for by 9.6's first start ahead (transaction/rehearsed-ahead.ts);
    // this one runs as a rehearsal, on its private copy of the finalized state, which is this file's subject.
    const { preflightEnv } = JSON.parse(readFileSync(path.join(root, 'config.json'), 'utf8'));
    await editRootConfig(root, { preflightEnv: { ...preflightEnv, RS_OPERATOR_REHEARSAL: '1' } }, undefined);
    expect((await rs(['unit', '--install'])).exitCode).toBe(0);
    lap('init --adopt, --state-path, unit --install');
    // TO is staged (our CLI's install, from the registry) while the gateway restarts onto our unit: it needs the root,
    // not the gateway, and the restart mostly waits for the gateway's cold start.
    const installing = rs(['install', `openclaw@${TO}`]);
    const pid = Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());
    expect((await um.systemctl(['restart', UNIT], { timeoutMs: 400_000 })).exitCode).toBe(0);
    expect((await openclawHealthy(um, { port, pid, timeoutMs: 300_000 })).version).toBe(FROM);
    const installed = await installing;
    expect(installed.exitCode, installed.stdout.slice(-2000) + installed.stderr.slice(-2000)).toBe(0);
    lap(`restart on our unit with install ${TO} alongside`);
  }, 2_400_000);

  afterAll(() => removeOpenclawBench(um, work), REMOVE_TIMEOUT_MS);

  const era95 = {
    'credentials/rs-test.json': '{"token":"from 9.5"}\n',
    'extensions/rs-95/index.js': '// 9.5 plugin\n',
  };

  it(`update ${FROM} → ${TO} is rehearsed and verified with the live gateway's lock in the state dir; no copy holds it`, async () => {
    for (const [rel, text] of Object.entries(era95)) {
      mkdirSync(path.dirname(path.join(state(), rel)), { recursive: true });
      writeFileSync(path.join(state(), rel), text, { mode: 0o600 });
    }
    // 2026.9.x: tmp/openclaw-<uid>/gateway.state.lock.sqlite, gateway.<hash>.lock.sqlite (SQLite files naming the owner).
    const locks = filesUnder(path.join(state(), 'tmp')).filter((f) => isLock(f));
    expect(locks.length, 'the live gateway keeps its locks in the state dir').toBeGreaterThan(0);
    const switched = await rs(['switch', TO]);
    expect(switched.json?.result?.status, switched.stdout + switched.stderr).toBe('verified');
    const preflight = switched.json.result.steps.find((s: { name: string }) => s.name === 'preflight');
    expect(preflight, JSON.stringify(switched.json.result.steps)).toMatchObject({ status: 'ok' });
    // The operator's own rehearsal ran, on a private copy of the finalized state seen at the live path, not the first
    // start ahead in its place.
    expect(preflight.evidence.by).toBeUndefined();
    expect(preflight.evidence.finalized).toMatchObject({ seenAt: state() });
    // The checkpoint taken before 9.6 first started: no tmp/, no lock, no file naming a live process.
    const snapshot = path.join(root, 'snapshots', switched.json.result.id);
    const held = filesUnder(snapshot);
    expect(held.filter((f) => f.includes('/tmp/') || isLock(f))).toEqual([]);
    // A link is kept as a link (its target is not the checkpoint's content): only files are read.
    const links = held.filter((f) => lstatSync(path.join(snapshot, f)).isSymbolicLink());
    console.log(
      `links in the checkpoint: ${JSON.stringify(links.map((f) => [f, readlinkSync(path.join(snapshot, f))]))}`,
    );
    for (const f of held.filter((f) => !links.includes(f))) {
      const text = readFileSync(path.join(snapshot, f), 'latin1');
      const pid = /^\s*\{/.test(text) && text.length < 4096 ? (JSON.parse(text) as { pid?: number }).pid : undefined;
      if (typeof pid === 'number') expect(alive(pid), `${f} names live pid ${pid}`).toBe(false);
    }
    expect(held).toContain(path.join('data', '0', 'credentials', 'rs-test.json'));
  }, 1_200_000);

  it(`rollback to ${FROM}: what ${TO} wrote is gone, the ${FROM}-era files are back byte for byte`, async () => {
    // What 9.6's first start writes: a plugin folder, a credentials file, and a change to an existing one.
    mkdirSync(path.join(state(), 'extensions', 'rs-96'), { recursive: true });
    writeFileSync(path.join(state(), 'extensions', 'rs-96', 'index.js'), '// 9.6 plugin\n');
    writeFileSync(path.join(state(), 'credentials', 'rs-96.json'), '{"token":"from 9.6"}\n');
    writeFileSync(path.join(state(), 'credentials', 'rs-test.json'), '{"token":"rewritten by 9.6"}\n');
    const back = await rs(['rollback']);
    expect(back.json?.result?.status, back.stdout + back.stderr).toBe('verified');
    expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 120_000 })).version).toBe(FROM);
    expect(existsSync(path.join(state(), 'extensions', 'rs-96'))).toBe(false);
    expect(existsSync(path.join(state(), 'credentials', 'rs-96.json'))).toBe(false);
    for (const [rel, text] of Object.entries(era95)) expect(readFileSync(path.join(state(), rel), 'utf8')).toBe(text);
  }, 1_200_000);

  it(`kill -9 halfway through the rename-swap of a rollback: recover finishes it, ${FROM} serves on exactly its state`, async () => {
    // 9.6 again (its state, set aside by the rollback above, put back exactly: no finalize), then 9.6 writes more.
    const again = await rs(['switch', TO]);
    expect(again.json?.result?.status, again.stdout.slice(-3000) + again.stderr.slice(-3000)).toBe('verified');
    writeFileSync(path.join(state(), 'credentials', 'rs-96-again.json'), '{"token":"from 9.6, again"}\n');
    // The rollback's own process puts the checkpoint back, the gateway stopped (finalize's path; an exact restore
    // skips finalize itself): killed after the live state moved out and one entry of the checkpoint moved in.
    const killed = await rs(['rollback'], 900_000, { RELEASE_SWITCHER_CRASH_AT: 'restore:swap-in' });
    expect(killed.signal, `restore:swap-in was never reached: ${killed.stdout.slice(-2000)}${killed.stderr}`).toBe(
      'SIGKILL',
    );
    console.log(`killed rollback (its last progress): ${killed.stderr.slice(-1500)}`);
    const recovered = await rs(['recover']);
    console.log(`recover: ${JSON.stringify(recovered.json?.result, null, 2)}`);
    expect(recovered.exitCode, recovered.stdout.slice(-3000) + recovered.stderr.slice(-3000)).toBe(0);
    expect((await openclawHealthy(um, { port, pid: null, timeoutMs: 300_000 })).version).toBe(FROM);
    const status = await rs(['status']);
    expect(status.json.result).toMatchObject({ current: FROM, transaction: { kind: 'rollback', to: FROM } });
    expect(status.json.result.transaction.status).toBe('verified');
    // Exactly the 9.5-era state: what 9.6 wrote (both times) gone, the 9.5-era files back byte for byte.
    for (const gone of ['extensions/rs-96', 'credentials/rs-96.json', 'credentials/rs-96-again.json'])
      expect(existsSync(path.join(state(), gone)), gone).toBe(false);
    for (const [rel, text] of Object.entries(era95)) expect(readFileSync(path.join(state(), rel), 'utf8')).toBe(text);
    // And what 9.6 left is kept, as a checkpoint set aside by that rollback.
    const listed = await rs(['checkpoints']);
    const aside = listed.json.result.checkpoints.find(
      (c: { kind: string; setAsideBy?: string }) =>
        c.kind === 'set-aside' && c.setAsideBy === status.json.result.transaction.id,
    );
    expect(aside, JSON.stringify(listed.json.result.checkpoints)).toMatchObject({ fromVersion: TO, toVersion: FROM });
  }, 1_800_000);
});
