// The bad tarballs hold exactly the fault their names promise, as node-tar's parser (no sanitizing) sees them.
import { list, type ReadEntry } from 'tar';
import { expect, inject, test } from 'vitest';

const { tarballs } = inject('fixtures');

async function entries(key: string) {
  const file = tarballs[key];
  if (!file) throw new Error(`no tarball ${key}`);
  const seen: Array<Pick<ReadEntry, 'path' | 'type' | 'mode' | 'linkpath'>> = [];
  await list({ file, onReadEntry: ({ path, type, mode, linkpath }) => void seen.push({ path, type, mode, linkpath }) });
  return seen;
}

test.each([
  ['bad-dotdot', { path: 'package/../escape.txt', type: 'File' }],
  ['bad-abs-symlink', { path: 'package/link', type: 'SymbolicLink', linkpath: '/etc/passwd' }],
  ['bad-escape-symlink', { path: 'package/lib/link', type: 'SymbolicLink', linkpath: '../../../outside' }],
  ['bad-device', { path: 'package/null', type: 'CharacterDevice' }],
  ['bad-setuid', { path: 'package/bin/tool.js', type: 'File', mode: 0o4755 }],
  ['bad-no-package-json', { path: 'package/index.js', type: 'File' }],
  ['bad-invalid-package-json', { path: 'package/package.json', type: 'File' }],
])('%s holds its fault', async (key, expected) => {
  expect(await entries(key)).toContainEqual(expect.objectContaining(expected));
});

test('bad-no-package-json has no package.json', async () => {
  expect((await entries('bad-no-package-json')).map((e) => e.path)).not.toContain('package/package.json');
});

test('bad-truncated cannot be read to the end', async () => {
  await expect(entries('bad-truncated')).rejects.toThrow();
});
