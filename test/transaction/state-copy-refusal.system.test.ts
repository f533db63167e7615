// A refusal the environment causes is not the candidate's fault: when the rehearsal's private copy of the state cannot
// be made (here a database SQLite cannot read), the switch is a `failed` transaction, STATE_COPY_FAILED says what to
// fix, and the candidate is not marked `bad` (seen on real openclaw: every update refused and 2026.9.6 marked bad
// because of what the copy carried, not of what 9.6 did).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statfsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { describeWhere } from '../support/skip.ts';
import { rs, templateRoot, tempDir } from '../support/cli.ts';
import { copyRoot, linkOf, readState } from '../support/root.ts';

const freshRoot = templateRoot(['1.0.0', '1.2.0']);
// A Node with node:sqlite (the global setup's), so databases are copied by SQLite whatever Node runs the suite.
const node24 = inject('sqliteNode');

/** `init` with a rehearsal (`preflight`, a health URL nobody answers) and `extra`, then `switch 1.2.0`: it must fail. */
async function switchRefused(root: string, extra: string[], preflight = 'server.js --port {port}') {
  const init = await rs(root, [
    'init',
    '--preflight',
    preflight,
    '--health-url',
    'http://127.0.0.1:9/health',
    ...extra,
  ]);
  expect(init.exitCode, init.stdout + init.stderr).toBe(0);
  const r = await rs(root, ['switch', '1.2.0']);
  expect(r.exitCode, r.stdout + r.stderr).toBe(1);
  return r;
}

describe('a state copy that cannot be made', () => {
  it('fails the switch with STATE_COPY_FAILED, current untouched, the candidate not marked bad', async () => {
    const root = freshRoot();
    const live = join(tempDir('rs-copyfail-live-'), 'state');
    mkdirSync(live);
    writeFileSync(
      join(live, 'broken.sqlite'),
      Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 0xff)]),
    );
    const r = await switchRefused(root, ['--node', node24, '--state-path', live]);
    expect(r.json.error).toMatchObject({
      code: 'STATE_COPY_FAILED',
      message: expect.stringContaining('broken.sqlite'),
    });
    const state = readState(root);
    expect(state.releases['1.2.0'].state).toBe('installed');
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    const status = await rs(root, ['status']);
    expect(JSON.stringify(status.json.result)).toMatch(/"status":"failed"/);
  });

  it('a configured Node removed since the install fails the switch with NODE_NOT_FOUND, the candidate not marked bad', async () => {
    const root = freshRoot();
    const gone = join(tempDir('rs-node-gone-'), 'bin', 'node');
    const r = await switchRefused(root, ['--node', gone]);
    expect(r.json.error).toMatchObject({ code: 'NODE_NOT_FOUND', message: expect.stringContaining(gone) });
    expect(r.json.error.hint).toContain('--node');
    expect(readState(root).releases['1.2.0'].state).toBe('installed');
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
  });

  it('another process holds a port the candidate needs: PORT_TAKEN, the switch failed, the candidate not marked bad', async () => {
    const root = freshRoot();
    const held = createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise((resolve) => held.close(resolve)));
    const port = (held.address() as { port: number }).port;
    const r = await switchRefused(root, ['--verify-timeout', '3'], `server.js --port ${port}`);
    expect(r.json.error).toMatchObject({
      code: 'PORT_TAKEN',
      message: expect.stringContaining(`port ${port} is held by another process`),
      hint: expect.stringContaining('ss -ltnp'),
    });
    expect(readState(root).releases['1.2.0'].state).toBe('installed');
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(readState(root).history.at(-1)).toMatchObject({ status: 'failed', to: '1.2.0' });
  });

  describeWhere({ ok: process.getuid?.() === 0, why: 'not root: it mounts a small tmpfs' }, 'disk full', () => {
    it('no room for the private copy: DISK_FULL, the switch failed, the candidate not marked bad', async () => {
      const mount = tempDir('rs-copy-enospc-');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mount]);
      onTestFinished(() => execFileSync('umount', ['-l', mount]));
      const root = copyRoot(freshRoot(), join(mount, 'root'));
      const live = join(tempDir('rs-copy-enospc-live-'), 'state');
      mkdirSync(live);
      // One file bigger than what is left where the root (and the rehearsal's private copy) lives.
      const free = statfsSync(mount);
      writeFileSync(join(live, 'blob'), Buffer.alloc(free.bavail * free.bsize + 1024 * 1024, 1));
      const r = await switchRefused(root, ['--state-path', live]);
      expect(r.json.error).toMatchObject({
        code: 'DISK_FULL',
        message: expect.stringMatching(/private copy of the state.*not marked bad/),
        hint: expect.stringContaining('prune'),
      });
      expect(readState(root).releases['1.2.0'].state).toBe('installed');
      expect(linkOf(root, 'current')).toBe('releases/1.0.0');
      expect(readdirSync(join(root, 'preflight'))).toEqual([]);
    });
  });
});
