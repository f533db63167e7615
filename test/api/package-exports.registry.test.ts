// What a user of the built package imports, resolved by Node through package.json `exports` (a self-reference, as
// from node_modules): the root has the verbs and not the internals; `release-switcher/internals` has them.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../..');

it('release-switcher and release-switcher/internals resolve to the built root and internals', () => {
  const script = `
    const root = await import('release-switcher');
    const internals = await import('release-switcher/internals');
    console.log(JSON.stringify({
      verbs: ['switchTo', 'update', 'rollback', 'runCli', 'isReleaseSwitcherError'].map((name) => typeof root[name]),
      internalsOnRoot: ['rolloutBucket', 'timerStem', 'LOCK_STALE_MS', 'SUPERVISORS', 'runScheduled', 'acrossRoots']
        .filter((name) => name in root),
      internals: [typeof internals.rolloutBucket, typeof internals.timerStem, typeof internals.LOCK_STALE_MS],
      moved: [typeof internals.SUPERVISORS, typeof internals.runScheduled, typeof internals.acrossRoots],
    }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' });
  expect(JSON.parse(out)).toEqual({
    verbs: ['function', 'function', 'function', 'function', 'function'],
    internalsOnRoot: [],
    internals: ['function', 'function', 'number'],
    moved: ['object', 'function', 'function'],
  });
});
