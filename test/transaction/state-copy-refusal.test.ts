// A refusal the environment causes is not the candidate's fault: when the rehearsal's private copy of the state cannot
// be made (here a database SQLite cannot read), the switch is a `failed` transaction, STATE_COPY_FAILED says what to
// fix, and the candidate is not marked `bad` (seen on real openclaw: every update refused and 2026.9.6 marked bad
// because of what the copy carried, not of what 9.6 did).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { rs, templateRoot, tempDir } from '../support/cli.ts';
import { linkOf, readState } from '../support/root.ts';

const freshRoot = templateRoot(['1.0.0', '1.2.0']);
// A Node with node:sqlite (the global setup's), so databases are copied by SQLite whatever Node runs the suite.
const node24 = inject('sqliteNode');

describe('a state copy that cannot be made', () => {
  it('fails the switch with STATE_COPY_FAILED, current untouched, the candidate not marked bad', async () => {
    const root = freshRoot();
    const live = join(tempDir('rs-copyfail-live-'), 'state');
    mkdirSync(live);
    writeFileSync(
      join(live, 'broken.sqlite'),
      Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 0xff)]),
    );
    const init = await rs(root, [
      'init',
      '--node',
      node24,
      '--preflight',
      'server.js --port {port}',
      '--health-url',
      'http://127.0.0.1:9/health',
      '--state-path',
      live,
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    const r = await rs(root, ['switch', '1.2.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
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
    const init = await rs(root, [
      'init',
      '--node',
      gone,
      '--preflight',
      'server.js --port {port}',
      '--health-url',
      'http://127.0.0.1:9/health',
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    const r = await rs(root, ['switch', '1.2.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.json.error).toMatchObject({ code: 'NODE_NOT_FOUND', message: expect.stringContaining(gone) });
    expect(r.json.error.hint).toContain('--node');
    expect(readState(root).releases['1.2.0'].state).toBe('installed');
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
  });
});
