// The pm2 adapter against a real pm2 daemon (the devDependency), one private PM2_HOME per test.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ReleaseSwitcherError } from '../../../src/model/errors.ts';
import { flipSymlink } from '../../../src/store/links.ts';
import { run } from '../../../src/platform/subprocess.ts';
import { pm2Supervisor } from '../../../src/service/supervisors/pm2.ts';
import type { ServiceState } from '../../../src/service/supervisors/types.ts';
import { godDaemons } from '../../support/pm2.ts';
import { freePort, getJson } from '../../support/service.ts';

const PM2 = resolve(import.meta.dirname, '../../../node_modules/.bin/pm2');
const APP = 'rs-pm2-test';

// CommonJS (no package.json "type" above it); exits 1 after answering /crash.
const SERVER = `const http = require('node:http');
const { version } = require('./package.json');
http.createServer((req, res) => {
  if (req.url === '/crash') return res.end('bye', () => process.exit(1));
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ version, pid: process.pid }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/**
 * Whether any thread of process `pid` still runs. Its leader shows as a zombie while the others still exit (pm2's
 * daemon: about a second and a half, its sockets still listening all the while), so only a zombie alone is gone.
 */
function alive(pid: number): boolean {
  try {
    const zombie = /^\S+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return !zombie || readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}

/** Poll until `check` returns a value (not undefined) or the deadline passes; errors count as "not yet". */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

/** Two releases under a `current` link, a private pm2 daemon (killed when the test ends), the app started through `current`. */
async function setup() {
  // Not tempDir(): the daemon must be killed before its PM2_HOME goes, or `pm2 kill` would spawn a new one.
  const root = mkdtempSync(join(tmpdir(), 'rs-pm2-'));
  for (const version of ['1.0.0', '1.1.0']) {
    const dir = join(root, 'releases', version);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'server.js'), SERVER);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fake-gateway', version }));
  }
  symlinkSync('releases/1.0.0', join(root, 'current'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: join(root, 'pm2'), PORT: String(port) };
  onTestFinished(async () => {
    await run(PM2, ['kill'], { env, timeoutMs: 30_000 });
    rmSync(root, { recursive: true, force: true });
  });
  const started = await run(PM2, ['start', join(root, 'current/server.js'), '--name', APP], { env, timeoutMs: 30_000 });
  expect(started.exitCode, started.output).toBe(0);
  const supervisor = pm2Supervisor({ app: APP, env, pm2: PM2 });
  const first = await waitFor('the app to serve', async () =>
    getJson<{ version: string; pid: number }>(port, '/health'),
  );
  return { root, port, env, supervisor, first };
}

/** The next state() whose pid serves HTTP with another pid than `oldPid`. */
async function nextServing(port: number, oldPid: number) {
  return waitFor('a new process to serve', async () => {
    const body = await getJson<{ version: string; pid: number }>(port, '/health');
    return body.pid !== oldPid ? body : undefined;
  });
}

describe('pm2Supervisor (real pm2 7)', () => {
  it('reports the online app, and a restart after the flip runs the new release', async () => {
    const { root, port, supervisor, first } = await setup();
    expect(first.version).toBe('1.0.0');
    const before = await supervisor.state();
    expect(before).toMatchObject({ active: true, state: 'online', mainPid: first.pid, restarts: 0, exitStatus: null });
    // pm2 keeps the path as given: the link, not the release it resolved to.
    expect(before.detail).toContain(`script ${join(root, 'current/server.js')}`);

    await flipSymlink(join(root, 'current'), 'releases/1.1.0');
    await supervisor.restart();
    const served = await nextServing(port, first.pid);
    expect(served.version).toBe('1.1.0');
    const after = await supervisor.state();
    expect(after).toMatchObject({ active: true, state: 'online', mainPid: served.pid, exitStatus: null });
    // An explicit restart counts: the verifier's baseline is the value read after our own restart.
    expect(after.restarts).toBe(1);
    expect(after.detail).toContain('version 1.1.0');
  });

  it('shows a crash as one more restart and a new pid', async () => {
    const { port, supervisor, first } = await setup();
    const before = await supervisor.state();
    await expect(getJson(port, '/crash')).rejects.toThrow(); // "bye" is not JSON
    const served = await nextServing(port, first.pid);
    const after = await waitFor('pm2 to count the crash', async () => {
      const state = await supervisor.state();
      return state.restarts === (before.restarts ?? 0) + 1 && state.active ? state : undefined;
    });
    expect(after.mainPid).toBe(served.pid);
  });

  it('start() brings back a stopped app and leaves an online one alone', async () => {
    const { port, env, supervisor, first } = await setup();
    await supervisor.start();
    expect((await supervisor.state()).mainPid).toBe(first.pid);

    const stopped = await run(PM2, ['stop', APP], { env, timeoutMs: 30_000 });
    expect(stopped.exitCode, stopped.output).toBe(0);
    expect(await supervisor.state()).toMatchObject({ active: false, state: 'stopped', mainPid: null });
    await supervisor.start();
    const served = await nextServing(port, first.pid);
    expect(await supervisor.state()).toMatchObject({ active: true, state: 'online', mainPid: served.pid });
  });

  it('reports an unknown app as not-found, and refuses to restart or start it', async () => {
    const { env, supervisor } = await setup();
    const other = pm2Supervisor({ app: 'rs-pm2-nope', env, pm2: PM2 });
    expect(await other.state()).toEqual<ServiceState>({
      active: false,
      state: 'not-found',
      mainPid: null,
      restarts: null,
      exitStatus: null,
      detail: 'pm2 has no app named rs-pm2-nope',
      processes: { pids: [] }, // none whose listener verification could trust
    });
    for (const action of [() => other.restart(), () => other.start()]) {
      const error = await action().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReleaseSwitcherError);
      expect(error).toMatchObject({ code: 'SUPERVISOR_FAILED', message: 'pm2 has no app named rs-pm2-nope.' });
      expect((error as ReleaseSwitcherError).hint).toContain('--name rs-pm2-nope');
    }
    expect((await supervisor.state()).active).toBe(true); // the real app was not touched
  });

  it('with no daemon (none yet, or one killed) reports not-found and starts none, as pm2 itself would have', async () => {
    const { root, env, supervisor } = await setup();
    const home = env.PM2_HOME!;
    const daemon = Number(readFileSync(join(home, 'pm2.pid'), 'utf8'));
    const app = (await supervisor.state()).mainPid!;
    // Killed as an OOM kill or a crash would: its socket file stays, nobody listens on it.
    for (const pid of [daemon, app]) process.kill(pid, 'SIGKILL');
    await waitFor('the daemon to be gone', async () => (alive(daemon) ? undefined : true));
    expect(existsSync(join(home, 'rpc.sock'))).toBe(true);
    const neverStarted = join(root, 'pm2-never');
    for (const [pm2Home, socket] of [
      [home, 'rpc.sock'],
      [neverStarted, ''],
    ] as const) {
      const state = await pm2Supervisor({ app: APP, env: { ...env, PM2_HOME: pm2Home }, pm2: PM2 }).state();
      expect(state).toEqual<ServiceState>({
        active: false,
        state: 'not-found',
        mainPid: null,
        restarts: null,
        exitStatus: null,
        detail: `pm2 has no app named ${APP}: no pm2 daemon runs (${join(pm2Home, 'rpc.sock')})`,
        processes: { pids: [] },
      });
      // pm2 would have spawned a daemon of this PM2_HOME for the question, and left it running.
      expect(godDaemons(pm2Home), pm2Home).toEqual([]);
      expect(existsSync(join(pm2Home, 'pm2.pid')), pm2Home).toBe(socket !== ''); // the killed one's stale pid file
    }
    expect(existsSync(neverStarted)).toBe(false);
  });

  it('turns a pm2 that cannot run into SUPERVISOR_FAILED with a hint', async () => {
    const supervisor = pm2Supervisor({ app: APP, env: { PATH: '/nonexistent' }, pm2: '/nonexistent/pm2' });
    await expect(supervisor.state()).rejects.toMatchObject({
      code: 'SUPERVISOR_FAILED',
      message: expect.stringContaining('could not be run'),
    });
    expect(() => pm2Supervisor({ app: 'all', env: {} })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
  });
});
