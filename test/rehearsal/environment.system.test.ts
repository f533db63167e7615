// A rehearsal that fails because of the environment, not the candidate: another process holds a port it needs, the
// disk where its private copy lives is full, or its copy names a live process as the state's owner (real openclaw:
// "Another gateway (pid N) already owns this state directory"). Each is proven against the host once the candidate
// is stopped, and reported as the environment's (`environment: true`, its own reason), so the transaction does not
// mark the candidate bad; the same candidate failing on its own is still its own failure.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { openSync, closeSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { copyStatePrivately } from '../../src/snapshot/private-copy.ts';
import { type PreflightOptions, runPreflight } from '../../src/rehearsal/preflight.ts';
import { describeWhere } from '../support/skip.ts';
import { candidate } from './preflight-support.ts';

let root: string;
let live: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rs-preflight-env-'));
  live = join(root, 'live-state');
  await mkdir(live);
  await writeFile(join(live, 'state.db'), `${JSON.stringify({ schema: 17, migrations: [], starts: ['4.0.0'] })}\n`);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function rehearse(version: string, over: Partial<PreflightOptions> = {}) {
  return runPreflight({
    node: process.execPath,
    args: ['server.js', '--port', '{port}'],
    env: { STATE_DIR: '{state}' },
    baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    releaseDir: join(root, 'releases', version),
    expectedVersion: version,
    healthUrl: 'http://127.0.0.1:18789/health',
    versionField: 'version',
    verifyTimeoutMs: 3_000,
    holdMs: 500,
    copyState: (dir) => copyStatePrivately([live], dir),
    workRoot: join(root, 'preflight'),
    isolation: { kind: 'group' },
    onRecord: async () => {},
    ...over,
  });
}

/** A process that stands for the live service: alive until the test ends. */
function liveService(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  onTestFinished(() => void child.kill('SIGKILL'));
  return child;
}

describe('a rehearsal the environment makes fail', () => {
  it('another process holds the port it needs: port_taken, the environment; once freed, its failure there is its own', async () => {
    await candidate(root, '4.1.0', { schema: 18 });
    const held: Server = createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    const port = (held.address() as { port: number }).port;
    // The candidate binds a fixed port (as a service that needs a second one does) that another process holds.
    const taken = await rehearse('4.1.0', { args: ['server.js', '--port', String(port)] });
    expect(taken, taken.outputTail).toMatchObject({ ok: false, reason: 'port_taken', environment: true });
    expect(taken.detail).toContain(`port ${port} is held by another process`);
    await new Promise((resolve) => held.close(resolve));
    const own = await rehearse('4.1.0', { args: ['server.js', '--port', String(port)] });
    // Free now, it binds; the rehearsal probes its own port, so it is never healthy there: its own failure.
    expect(own).toMatchObject({ ok: false, reason: 'never_healthy' });
    expect(own.environment).toBeUndefined();
    expect(await readdir(join(root, 'preflight'))).toEqual([]);
  });

  it('its copy names a live process as the owner: state_owned; a dead owner is the candidate refusing on its own', async () => {
    // Stands for openclaw reading a lease row of its database: the copy's owner record, in no residue pattern.
    const dir = join(root, 'releases', '9.0.0');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'server.js'),
      [
        "const fs = require('node:fs');",
        "const owner = fs.readFileSync(process.env.STATE_DIR + '/leases.txt', 'utf8').trim().split(' ')[1];",
        'console.error(`Another gateway (pid ${owner}) already owns this state directory; refusing to start`);',
        'process.exit(1);',
      ].join('\n'),
    );
    await writeFile(join(dir, 'package.json'), '{"type":"commonjs"}');
    const gateway = liveService();
    await writeFile(join(live, 'leases.txt'), `owner ${gateway.pid} since 2026-09-05`);
    onTestFinished(() => rm(join(live, 'leases.txt'), { force: true }));
    const owned = await rehearse('9.0.0');
    expect(owned, owned.outputTail).toMatchObject({ ok: false, reason: 'state_owned', environment: true });
    expect(owned.detail).toContain(`owned by live process ${gateway.pid}`);

    gateway.kill('SIGKILL');
    await new Promise((resolve) => gateway.once('exit', resolve));
    const stale = await rehearse('9.0.0');
    expect(stale).toMatchObject({ ok: false, reason: 'crashed' });
    expect(stale.environment).toBeUndefined();
  });
});

const isRoot = process.getuid?.() === 0;
describeWhere({ ok: isRoot, why: 'not root: it mounts a small tmpfs' }, 'disk full', () => {
  it('the disk of its private copy fills: disk_full, the environment', async () => {
    await candidate(root, '4.1.0', { schema: 18 });
    const mount = await mkdtemp(join(tmpdir(), 'rs-preflight-enospc-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mount]);
    onTestFinished(async () => {
      execFileSync('umount', ['-l', mount]);
      await rm(mount, { recursive: true, force: true });
    });
    const result = await rehearse('4.1.0', {
      workRoot: join(mount, 'preflight'),
      // The copy fits; then the disk fills (another writer), and the candidate's migration (a backup first) cannot.
      copyState: async (dir) => {
        const state = await copyStatePrivately([live], dir);
        const filler = openSync(join(mount, 'filler'), 'w');
        try {
          for (;;) writeSync(filler, Buffer.alloc(1024));
        } catch (error) {
          expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
        } finally {
          closeSync(filler);
        }
        return state;
      },
    });
    expect(result, result.outputTail).toMatchObject({ ok: false, reason: 'disk_full', environment: true });
    // Its output file is on that disk too (empty here): the host's free space is the proof, not its words.
    expect(result.detail).toMatch(
      /^(the disk is full|it ran out of space) where its private copy of the state lives \(\d+ KiB free\)/,
    );
  });
});
