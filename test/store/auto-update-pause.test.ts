// The auto-updater's pause file (store/auto-update-pause.ts): written, read, kept, removed, on a real folder.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readPause, removePause, writePause } from '../../src/store/auto-update-pause.ts';
import { layoutOf } from '../../src/store/layout.ts';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});
const layout = () => {
  const root = mkdtempSync(path.join(tmpdir(), 'rs-pause-'));
  dirs.push(root);
  return layoutOf(root);
};

describe('the pause', () => {
  it('not paused without the file; paused with since, user and reason; pausing again keeps the first since', async () => {
    const l = layout();
    expect(await readPause(l)).toEqual({ paused: false });
    const first = await writePause(l, { user: 'alice', reason: 'freeze' });
    expect(first).toMatchObject({ paused: true, user: 'alice', reason: 'freeze' });
    expect(Date.parse(first.since!)).not.toBeNaN();
    expect(await readPause(l)).toEqual(first);
    expect(statSync(l.autoUpdatePause).mode & 0o777).toBe(0o644);
    expect(JSON.parse(readFileSync(l.autoUpdatePause, 'utf8'))).toEqual({
      since: first.since,
      user: 'alice',
      reason: 'freeze',
    });
    const again = await writePause(l, { user: 'bob' });
    expect(again).toEqual({ paused: true, since: first.since, user: 'bob' });
  });

  it('resume removes it; resuming what is not paused changes nothing', async () => {
    const l = layout();
    await writePause(l, {});
    expect(await removePause(l)).toEqual({ paused: false });
    expect(await readPause(l)).toEqual({ paused: false });
    expect(await removePause(l)).toEqual({ paused: false });
  });

  it('a file that is not JSON still pauses (whoever wrote it meant to), and says it is unreadable', async () => {
    const l = layout();
    writeFileSync(l.autoUpdatePause, 'yes');
    expect(await readPause(l)).toEqual({ paused: true, reason: `${l.autoUpdatePause} is unreadable` });
  });
});
