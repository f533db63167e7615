// A log appended to across runs is bounded by renames only (rotateLog): never truncated under a writer, the oldest
// dropped, owner and mode kept with each file.
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { rotateLog } from '../../src/platform/fs.ts';

const bound = { maxBytes: 100, kept: 3 };

/** A folder with `log` holding `size` bytes of its own text, and the rotated files `log.<n>` named in `rotated`. */
function logDir(size: number, rotated: number[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'rs-rotate-log-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'log'), 'x'.repeat(size));
  for (const n of rotated) writeFileSync(join(dir, `log.${n}`), `run ${n} ago\n`);
  return join(dir, 'log');
}

describe('rotateLog', () => {
  it('leaves a log at or under the bound, or none at all, as it is', async () => {
    const log = logDir(100, [1]);
    expect(await rotateLog(log, bound)).toBe(false);
    expect(readFileSync(log, 'utf8')).toBe('x'.repeat(100));
    expect(readFileSync(`${log}.1`, 'utf8')).toBe('run 1 ago\n');
    rmSync(log);
    expect(await rotateLog(log, bound)).toBe(false);
  });

  it('over the bound: the log becomes .1, each older one moves a number up, and past `kept` the oldest is gone', async () => {
    const log = logDir(101, [1, 2, 3]);
    expect(await rotateLog(log, bound)).toBe(true);
    expect(existsSync(log)).toBe(false); // its next writer creates it afresh
    expect(readFileSync(`${log}.1`, 'utf8')).toBe('x'.repeat(101));
    expect(readFileSync(`${log}.2`, 'utf8')).toBe('run 1 ago\n');
    expect(readFileSync(`${log}.3`, 'utf8')).toBe('run 2 ago\n');
    expect(existsSync(`${log}.4`)).toBe(false);
  });

  it('a writer that still holds the log open writes on into .1: nothing it wrote or writes is lost', async () => {
    const log = logDir(101);
    const fd = openSync(log, 'a');
    try {
      expect(await rotateLog(log, bound)).toBe(true);
      writeSync(fd, 'its last line\n');
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(`${log}.1`, 'utf8')).toBe(`${'x'.repeat(101)}its last line\n`);
  });

  it('each file keeps its mode (and owner: a rename moves the inode)', async () => {
    const log = logDir(101, [1]);
    chmodSync(log, 0o640);
    chmodSync(`${log}.1`, 0o600);
    const owner = statSync(log).uid;
    await rotateLog(log, bound);
    expect(statSync(`${log}.1`).mode & 0o777).toBe(0o640);
    expect(statSync(`${log}.1`).uid).toBe(owner);
    expect(statSync(`${log}.2`).mode & 0o777).toBe(0o600);
  });

  it('a gap in the numbers, as a crash between two renames leaves it, does not stop the next rotation', async () => {
    const log = logDir(101, [2]);
    expect(await rotateLog(log, bound)).toBe(true);
    expect(readFileSync(`${log}.1`, 'utf8')).toBe('x'.repeat(101));
    expect(readFileSync(`${log}.3`, 'utf8')).toBe('run 2 ago\n');
    expect(existsSync(`${log}.2`)).toBe(false);
  });
});
