// Which list `init` records a root in: root never writes a root under a temporary folder into the machine's list
// (/var/lib/release-switcher/roots.json), where it would outlive the folder and be reported gone by every account.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { SYSTEM_ROOTS_FILE } from '../../src/store/roots-registry.ts';
import { init } from '../../src/verbs/init.ts';

const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-init-listing-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

describe('init and the lists of roots', () => {
  it("a root under a temporary folder is not recorded in the machine's list, and init says why", async () => {
    const before = existsSync(SYSTEM_ROOTS_FILE) ? readFileSync(SYSTEM_ROOTS_FILE, 'utf8') : null;
    const root = join(scratch(), 'root');
    const result = await init({
      root,
      settings: { package: 'app', supervisor: 'none' },
      rootsFile: SYSTEM_ROOTS_FILE,
    });
    expect(result.registered).toEqual({
      file: SYSTEM_ROOTS_FILE,
      skipped: expect.stringContaining(`${root} is under the temporary folder`),
    });
    // The machine's list is as it was (absent stays absent).
    expect(existsSync(SYSTEM_ROOTS_FILE) ? readFileSync(SYSTEM_ROOTS_FILE, 'utf8') : null).toBe(before);
  });

  it('a list named on purpose records the same root', async () => {
    const dir = scratch();
    const file = join(dir, 'roots.json');
    const root = join(dir, 'root');
    const result = await init({ root, settings: { package: 'app', supervisor: 'none' }, rootsFile: file });
    expect(result.registered).toEqual({ file });
    expect(JSON.parse(readFileSync(file, 'utf8')).roots.map((r: { root: string }) => r.root)).toEqual([root]);
  });
});
