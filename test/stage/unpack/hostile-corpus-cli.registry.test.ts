// A sample of the generated hostile corpus (test/support/hostile-corpus.ts) end to end through `install` of the
// built CLI: every case refused with BAD_TARBALL, `current` and the releases as they were, no staging left, and
// nothing outside the root changed. The whole corpus runs in-process in hostile-corpus.test.ts.
import { dirname, join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rs, templateRoot } from '../../support/cli.ts';
import { encodeCase, hostileCorpus } from '../../support/hostile-corpus.ts';
import { linkOf, releaseDirs, stagingEntries } from '../../support/root.ts';
import { plantSentinels, snapshot } from '../../support/sentinels.ts';

/** One of each kind of trick, through `install` of the built CLI from a .tgz path. */
const END_TO_END = [
  'names/pax-path-and-gnu-long-name-disagree',
  'names/dotdot-to-outside/ustar-prefix',
  'names/segment-longer-than-NAME_MAX/gnu-long-name',
  'global/linkpath',
  'links/chain-reverse-order/ustar-linkname',
  'links/file-written-through-to-outside/gnu-long-link',
  'links/hardlink-absolute-outside/pax-linkpath',
  "type-flags/'S'",
  'duplicates/dir-then-link-inside',
  'headers/setuid-file',
];

describe('hostile tarballs end to end: install refuses them with BAD_TARBALL', () => {
  const copyOfTemplate = templateRoot(['1.0.0']);

  it.each(END_TO_END)('%s', async (id) => {
    const root = copyOfTemplate();
    const parent = dirname(root);
    const watched = join(parent, 'outside');
    plantSentinels(watched);
    const c = hostileCorpus({ outside: watched, name: 'rs-fixture-gateway', version: '6.6.6' }).find(
      (x) => x.id === id,
    );
    expect(c, `${id} is in the corpus`).toBeDefined();
    const file = join(parent, 'hostile.tgz');
    writeFileSync(file, encodeCase(c!));
    const releases = releaseDirs(root);
    const around = snapshot(parent, (path) => path === root);
    const r = await rs(root, ['install', file]);
    expect(r.json?.error?.code, r.stdout + r.stderr).toBe('BAD_TARBALL');
    expect(r.exitCode).toBe(1);
    expect(r.json.error.hint).toBeTruthy();
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(stagingEntries(root)).toEqual([]);
    expect(releaseDirs(root)).toEqual(releases);
    expect(
      snapshot(parent, (path) => path === root),
      'nothing outside the root changed',
    ).toEqual(around);
  });
});
