// The tar entry rules, one by one.
import { describe, expect, it } from 'vitest';
import { unsafeEntryReason } from '../../src/stage/extract.ts';

describe('unsafeEntryReason', () => {
  it.each([
    [{ path: 'package/index.js', type: 'File', mode: 0o644 }, undefined],
    [{ path: 'package/bin/cli', type: 'File', mode: 0o755 }, undefined],
    [{ path: 'package/lib', type: 'Directory', mode: 0o755 }, undefined],
    [{ path: 'package/lib/link', type: 'SymbolicLink', linkpath: '../index.js' }, undefined],
    [{ path: 'package/../evil', type: 'File' }, /climbs out/],
    [{ path: '/etc/passwd', type: 'File' }, /absolute path/],
    [{ path: 'package/link', type: 'SymbolicLink', linkpath: '/etc/passwd' }, /absolute path/],
    [{ path: 'package/a/link', type: 'SymbolicLink', linkpath: '../../../outside' }, /outside the package/],
    [{ path: 'package/link', type: 'SymbolicLink', linkpath: '..' }, /outside the package/],
    [{ path: 'package/hard', type: 'Link', linkpath: 'package/index.js' }, /Link entry/],
    [{ path: 'package/dev', type: 'CharacterDevice' }, /CharacterDevice/],
    [{ path: 'package/fifo', type: 'FIFO' }, /FIFO/],
    [{ path: 'package/suid', type: 'File', mode: 0o4755 }, /setuid/],
    [{ path: 'package/sgid', type: 'File', mode: 0o2755 }, /setuid\/setgid/],
  ])('%j → %s', (entry, expected) => {
    const reason = unsafeEntryReason(entry);
    if (expected === undefined) expect(reason).toBeUndefined();
    else expect(reason).toMatch(expected);
  });
});
