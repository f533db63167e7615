// readRegularFileSync (platform/fs.ts): the small-file read of the state walks (a PID file's owner, a ready copy's
// digest). A file an account swapped for a link or a FIFO since it was listed is not read through it, nor waited on.
import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRegularFileSync } from '../../src/platform/fs.ts';
import { namesLiveProcessSync } from '../../src/snapshot/residue.ts';
import { tempDir } from '../support/cli.ts';

describe('readRegularFileSync', () => {
  it("a regular file's bytes, up to the bound; more than the bound, nothing", () => {
    const dir = tempDir('rs-read-', null);
    writeFileSync(join(dir, 'pid'), '12345\n');
    expect(readRegularFileSync(join(dir, 'pid'), 4096)?.toString()).toBe('12345\n');
    expect(readRegularFileSync(join(dir, 'pid'), 3)).toBeUndefined();
    expect(readRegularFileSync(join(dir, 'gone'), 4096)).toBeUndefined();
  });

  it('neither a link (to a file naming this live process) nor a FIFO (no writer: a blocking read would never end)', () => {
    const dir = tempDir('rs-read-odd-', null);
    writeFileSync(join(dir, 'elsewhere.json'), JSON.stringify({ pid: process.pid }));
    symlinkSync(join(dir, 'elsewhere.json'), join(dir, 'gateway.lock'));
    execFileSync('mkfifo', [join(dir, 'fifo.pid')]);
    expect(readRegularFileSync(join(dir, 'gateway.lock'), 4096)).toBeUndefined();
    expect(readRegularFileSync(join(dir, 'fifo.pid'), 4096)).toBeUndefined();
    // As the copy's residue check meets them when one was put in place of a small file after the folder was listed.
    expect(namesLiveProcessSync(join(dir, 'gateway.lock'), 'gateway.lock', 40)).toBe(false);
    expect(namesLiveProcessSync(join(dir, 'fifo.pid'), 'fifo.pid', 6)).toBe(false);
    expect(namesLiveProcessSync(join(dir, 'elsewhere.json'), 'elsewhere.json', 40)).toBe(true);
  });
});
