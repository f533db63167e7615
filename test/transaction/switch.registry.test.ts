// switch, rollback, list, status, prune on disk with supervisor none; tampered releases refuse to activate.
import { chmodSync, lstatSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureRoot, rs } from '../support/cli.ts';
import { copyRoot, linkOf, releaseDirs, stagingEntries, unfreeze } from '../support/root.ts';
import { tempDir } from '../support/cli.ts';

let template: string;
beforeAll(async () => {
  template = await fixtureRoot(['--keep', '1']);
  for (const v of ['1.0.0', '1.1.0', '1.2.0'])
    expect((await rs(template, ['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
});

function freshRoot(): string {
  const root = join(tempDir('rs-sw-'), 'root');
  copyRoot(template, root);
  return root;
}

describe('switch and rollback (supervisor none)', () => {
  it('switch flips current and previous atomically and reports switched with its steps', async () => {
    const root = freshRoot();
    const first = await rs(root, ['switch', '1.0.0']);
    expect(first.exitCode).toBe(0);
    expect(first.json.result).toMatchObject({ kind: 'switch', status: 'switched', from: null, to: '1.0.0' });
    const second = await rs(root, ['switch', '1.1.0']);
    expect(second.json.result).toMatchObject({ status: 'switched', from: '1.0.0', to: '1.1.0' });
    expect(second.json.result.steps.map((s: any) => [s.name, s.status])).toEqual([
      ['verify-release', 'ok'],
      ['flip', 'ok'],
      ['restart', 'skipped'],
    ]);
    expect(linkOf(root, 'current')).toBe('releases/1.1.0');
    expect(linkOf(root, 'previous')).toBe('releases/1.0.0');
    expect(lstatSync(join(root, 'current')).isSymbolicLink()).toBe(true);
  });

  it('switch to the current release is up_to_date', async () => {
    const root = freshRoot();
    await rs(root, ['switch', '1.0.0']);
    const again = await rs(root, ['switch', '1.0.0']);
    expect([again.exitCode, again.json.result.status]).toEqual([0, 'up_to_date']);
  });

  it('rollback returns to previous, and rollback VERSION to a named release', async () => {
    const root = freshRoot();
    await rs(root, ['switch', '1.0.0']);
    await rs(root, ['switch', '1.1.0']);
    const back = await rs(root, ['rollback']);
    expect(back.json.result).toMatchObject({ kind: 'rollback', status: 'switched', from: '1.1.0', to: '1.0.0' });
    expect([linkOf(root, 'current'), linkOf(root, 'previous')]).toEqual(['releases/1.0.0', 'releases/1.1.0']);
    const named = await rs(root, ['rollback', '1.2.0']);
    expect(named.json.result).toMatchObject({ from: '1.0.0', to: '1.2.0' });
  });

  it('rollback with no previous → NO_PREVIOUS', async () => {
    const root = freshRoot();
    await rs(root, ['switch', '1.0.0']);
    const r = await rs(root, ['rollback']);
    expect([r.exitCode, r.json.error.code]).toEqual([1, 'NO_PREVIOUS']);
  });

  it('list and status report marks, states and the last transaction', async () => {
    const root = freshRoot();
    await rs(root, ['switch', '1.0.0']);
    await rs(root, ['switch', '1.2.0']);
    const list = await rs(root, ['list']);
    expect(list.json.result.current).toBe('1.2.0');
    expect(list.json.result.previous).toBe('1.0.0');
    expect(list.json.result.releases.map((r: any) => [r.version, r.state, r.current, r.previous, r.pinned])).toEqual([
      ['1.2.0', 'pending', true, false, false],
      ['1.1.0', 'installed', false, false, false],
      ['1.0.0', 'pending', false, true, false],
    ]);
    for (const r of list.json.result.releases) {
      expect(r.integrity).toMatch(/^sha512-/);
      expect(r.source).toMatch(/^http/);
      expect(Date.parse(r.installedAt)).not.toBeNaN();
    }
    const status = await rs(root, ['status']);
    expect(status.json.result).toMatchObject({
      current: '1.2.0',
      previous: '1.0.0',
      transaction: { kind: 'switch', to: '1.2.0', status: 'switched' },
    });
    expect(status.json.result.transaction.before).toBeUndefined();
  });

  it('a tampered release refuses to activate (RELEASE_TAMPERED) and current stays', async () => {
    const root = freshRoot();
    await rs(root, ['switch', '1.0.0']);
    const file = join(root, 'releases/1.1.0/server.js');
    unfreeze(file);
    chmodSync(file, 0o644);
    writeFileSync(file, 'console.log("owned")\n');
    chmodSync(file, 0o444);
    const r = await rs(root, ['switch', '1.1.0']);
    expect([r.exitCode, r.json.error.code]).toEqual([4, 'RELEASE_TAMPERED']);
    expect(r.json.error.message).toMatch(/server\.js: /);
    expect(r.json.result).toMatchObject({ status: 'failed', reason: 'release_tampered' });
    // The failure's envelope carries the public transaction, as the success path does: no internal bookkeeping.
    expect(Object.keys(r.json.result)).not.toContain('before');
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    // A rollback to it is refused just the same.
    await rs(root, ['switch', '1.2.0']);
    const back = await rs(root, ['rollback', '1.1.0']);
    expect(back.json.error.code).toBe('RELEASE_TAMPERED');
  });

  it('an added file or a write bit also counts as tampering', async () => {
    const root = freshRoot();
    unfreeze(join(root, 'releases/1.1.0'));
    chmodSync(join(root, 'releases/1.1.0'), 0o755);
    const r = await rs(root, ['switch', '1.1.0']);
    expect(r.json.error.code).toBe('RELEASE_TAMPERED');
    expect(r.json.error.message).toMatch(/writable/);
  });
});

describe('prune', () => {
  it('removes old releases but never current, previous or the kept ones', async () => {
    const root = freshRoot();
    await rs(root, ['switch', '1.0.0']);
    await rs(root, ['switch', '1.1.0']);
    const r = await rs(root, ['prune', '--keep', '0']);
    expect(r.json.result).toEqual({ removed: ['1.2.0'], kept: ['1.1.0', '1.0.0'] });
    expect(releaseDirs(root)).toEqual(['1.0.0', '1.1.0']);
    expect(stagingEntries(root)).toEqual([]);
    expect((await rs(root, ['list'])).json.result.releases.map((x: any) => x.version)).toEqual(['1.1.0', '1.0.0']);
  });

  it('removes the stat fingerprint record of each release it removes, and only those', async () => {
    const root = freshRoot();
    await rs(root, ['switch', '1.0.0']);
    const records = () => readdirSync(join(root, 'fingerprints')).sort();
    expect(records()).toEqual(['1.0.0.json', '1.1.0.json', '1.2.0.json']);
    expect((await rs(root, ['prune', '--keep', '0'])).json.result).toEqual({
      removed: ['1.2.0', '1.1.0'],
      kept: ['1.0.0'],
    });
    expect(records()).toEqual(['1.0.0.json']);
    expect((await rs(root, ['doctor'])).exitCode).toBe(0); // nothing left over
  });

  it('keeps --keep N (default from config) of the others, newest first', async () => {
    const root = freshRoot();
    await rs(root, ['switch', '1.0.0']);
    const r = await rs(root, ['prune']); // config keep = 1
    expect(r.json.result).toEqual({ removed: ['1.1.0'], kept: ['1.2.0', '1.0.0'] });
  });

  it('never removes a pinned release; unpin lets it go', async () => {
    const root = freshRoot();
    await rs(root, ['switch', '1.2.0']);
    expect((await rs(root, ['pin', '1.0.0'])).json.result).toEqual({ version: '1.0.0', pinned: true });
    expect((await rs(root, ['list'])).json.result.releases.find((r: any) => r.version === '1.0.0').pinned).toBe(true);
    expect((await rs(root, ['prune', '--keep', '0'])).json.result).toEqual({
      removed: ['1.1.0'],
      kept: ['1.2.0', '1.0.0'],
    });
    expect((await rs(root, ['unpin', '1.0.0'])).json.result).toEqual({ version: '1.0.0', pinned: false });
    expect((await rs(root, ['prune', '--keep', '0'])).json.result).toEqual({ removed: ['1.0.0'], kept: ['1.2.0'] });
    expect((await rs(root, ['pin', '9.9.9'])).json.error.code).toBe('RELEASE_NOT_FOUND');
  });
});
