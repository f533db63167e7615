// Sentinels planted beside an unpack or an install, and a listing of a tree to show that nothing outside changed:
// shared by the in-process corpus test and its end-to-end sample through the built CLI.
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Sentinels beside whatever is unpacked: `outside/secret` 0600, `outside/dir/` 0700 with `inner` 0600. */
export function plantSentinels(outside: string): void {
  mkdirSync(join(outside, 'dir'), { recursive: true, mode: 0o700 });
  writeFileSync(join(outside, 'secret'), 'secret\n', { mode: 0o600 });
  writeFileSync(join(outside, 'dir', 'inner'), 'inner\n', { mode: 0o600 });
}

/** Every path below `top` (except `skip`) with its kind, mode, inode, times and bytes. */
export function snapshot(top: string, skip: (path: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (path: string) => {
    if (skip(path)) return;
    const s = lstatSync(path, { bigint: true });
    const kind = s.isSymbolicLink()
      ? `link:${readlinkSync(path)}`
      : s.isDirectory()
        ? 'dir'
        : s.isFile()
          ? `file:${createHash('sha256').update(readFileSync(path)).digest('hex')}`
          : 'other';
    // A directory's own times move whenever the test writes or removes its case in it; what is in it is listed here.
    const times = s.isDirectory() ? '' : ` mtime=${s.mtimeNs} ctime=${s.ctimeNs} nlink=${s.nlink}`;
    out[path] = `${kind} mode=${(s.mode & 0o7777n).toString(8)} ino=${s.ino}${times}`;
    if (s.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(top);
  return out;
}
