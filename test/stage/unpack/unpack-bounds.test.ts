// The cost of one tarball is bounded (issue 21, "unbounded cost"): before, a 0.9 MB tarball of 150,000 empty files
// took 117 s and 1.1 GB, linear in its entries. An entry bomb (thousands of entries from a few compressed bytes
// each) is refused once 10,000 entries are seen, and no tarball may hold more than `maxEntries` (100,000 by
// default, 8x openclaw's 12,800 files). Both are BAD_TARBALL with nothing left in the destination.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isReleaseSwitcherError } from '../../../src/model/errors.ts';
import { MAX_ENTRIES, unpackTarball } from '../../../src/stage/unpack/unpack.ts';
import { encodeTarball } from '../../support/bad-tarballs.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rs-unpack-bounds-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(tarball: Buffer, maxEntries?: number): Promise<{ message: string; seen: number }> {
  const file = join(dir, 'bomb.tgz');
  writeFileSync(file, tarball);
  let seen = 0;
  const dest = join(dir, 'dest');
  const error = await unpackTarball({
    source: file,
    dest,
    strip: 1,
    ...(maxEntries ? { maxEntries } : {}),
    onEntry: (count) => {
      seen = count;
    },
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isReleaseSwitcherError(error) && error.code, String(error)).toBe('BAD_TARBALL');
  expect(readdirSync(dir)).not.toContain('dest'); // nothing left behind
  return { message: (error as Error).message, seen };
}

describe('bounds on what one tarball may cost', () => {
  it('150,000 empty files in a 1 MB tarball: refused as an entry bomb after 10,000 entries', async () => {
    const entries = Array.from({ length: 150_000 }, (_, i) => ({ path: `package/f/${i}`, content: '' }));
    const tarball = encodeTarball(entries);
    expect(tarball.length).toBeLessThan(2 * 1024 * 1024);
    const { message, seen } = await refusal(tarball);
    expect(message).toMatch(/entry bomb: 10000 entries/);
    expect(seen).toBe(10_000);
  }, 120_000);

  it('more entries than maxEntries: refused at the first one past it', async () => {
    const entries = Array.from({ length: 60 }, (_, i) => ({
      path: `package/f${i}.txt`,
      content: `file ${i} ${'x'.repeat(200)}\n`,
    }));
    const { message, seen } = await refusal(encodeTarball(entries), 50);
    expect(message).toMatch(/more than 50 entries/);
    expect(seen).toBe(51);
  });

  it('the default bound is far above a real package and below the bomb', () => {
    expect(MAX_ENTRIES).toBeGreaterThan(5 * 12_800);
    expect(MAX_ENTRIES).toBeLessThan(150_000);
  });
});
