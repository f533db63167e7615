// PERMISSION_DENIED names the path that was refused. For the calls that take two (symlink, link, rename), Node's
// `path` is the source and `dest` the new name: a refused symlink is always about its new name (its target need not
// exist), a rename about the side whose folder may not be written.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { asPermissionDenied } from '../../src/platform/permission.ts';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});
const errnoError = (fields: Record<string, string>) => Object.assign(new Error('EACCES: permission denied'), fields);
const refused = (error: unknown) =>
  (asPermissionDenied(error, 'testing') as { details: { path?: string } }).details.path;

it('a refused symlink names its new name, not the target it points at', () => {
  const error = errnoError({
    code: 'EACCES',
    syscall: 'symlink',
    path: '/srv/root/bin/openclaw',
    dest: '/home/u/.openclaw/bin/openclaw.rs-1',
  });
  expect(refused(error)).toBe('/home/u/.openclaw/bin/openclaw.rs-1');
});

it('a refused rename names the new name when the source folder is writable, else the source', () => {
  const writable = mkdtempSync(path.join(tmpdir(), 'rs-perm-'));
  dirs.push(writable);
  const from = path.join(writable, 'a');
  expect(refused(errnoError({ code: 'EACCES', syscall: 'rename', path: from, dest: '/proc/1/b' }))).toBe('/proc/1/b');
  expect(refused(errnoError({ code: 'EACCES', syscall: 'rename', path: '/proc/1/a', dest: from }))).toBe('/proc/1/a');
  // A one-path call names its path, as before.
  expect(refused(errnoError({ code: 'EACCES', syscall: 'open', path: from }))).toBe(from);
});
