// A restart request the running release refuses is made again while the gateway lives (a busy gateway once let one
// fail to reach it); when every one fails, the handoff says why in its own words (what the request printed),
// not only its exit status, so a transaction read after its root's logs are gone still tells the cause.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestRestart } from '../../../src/presets/openclaw/restart-handoff.ts';

// Each test's clean-up is its own (its context's onTestFinished): the two run side by side, and a hook after each test
// would end the other's gateway while it still waits.

// The product's 2 s between requests, shortened: the subject is that a refused request is made again, each after the
// wait, not the length of the wait (a request is a fresh Node process: itself 0.1-0.5 s here).
const RETRY_AFTER_MS = 300;

/** `dist/index.js gateway restart` of `release` asked of the gateway `pid`, with a 30 s deadline. */
function request(release: string, pid: number) {
  return requestRestart(
    {
      node: process.execPath,
      releaseDir: release,
      env: process.env,
      pid,
      logFile: path.join(release, 'handoff.log'),
      timeoutMs: 30_000,
      retryAfterMs: RETRY_AFTER_MS,
    },
    { capabilities: [], request: ['dist/index.js', 'gateway', 'restart'], consume: [] },
  );
}

// Both mostly wait (between requests, on the gateway's exit): side by side.
describe.concurrent('requestRestart', () => {
  it('a request that exits non-zero while the gateway lives: not exited, refused with what it printed', async ({
    onTestFinished,
  }) => {
    const release = mkdtempSync(path.join(tmpdir(), 'rs-handoff-'));
    onTestFinished(() => rmSync(release, { recursive: true, force: true }));
    mkdirSync(path.join(release, 'dist'));
    writeFileSync(
      path.join(release, 'dist', 'index.js'),
      "console.error('Gateway restart refused: another restart is being delivered.'); process.exit(1);\n",
    );
    const gateway = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    onTestFinished(() => void gateway.kill());
    const result = await request(release, gateway.pid!);
    expect(result.exited).toBe(false);
    expect(result.refused).toMatch(/^the restart request exited 1: ".*another restart is being delivered\.?"$/);
    // Asked three times, the wait between each, then given up well before the deadline.
    expect(result.attempts).toBe(3);
    expect(result.ms).toBeGreaterThanOrEqual(2 * RETRY_AFTER_MS);
    expect(result.ms).toBeLessThan(20_000);
  }, 40_000);

  it('a request that fails once while the gateway lives is made again, and the gateway that then exits counts', async ({
    onTestFinished,
  }) => {
    const release = mkdtempSync(path.join(tmpdir(), 'rs-handoff-'));
    onTestFinished(() => rmSync(release, { recursive: true, force: true }));
    mkdirSync(path.join(release, 'dist'));
    const gateway = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    onTestFinished(() => void gateway.kill());
    // The first request cannot reach the gateway; the second one makes it exit, as a real one does.
    const marker = path.join(release, 'asked-once');
    writeFileSync(
      path.join(release, 'dist', 'index.js'),
      `const fs = require('node:fs');
if (!fs.existsSync(${JSON.stringify(marker)})) { fs.writeFileSync(${JSON.stringify(marker)}, ''); console.error('gateway closed (1006)'); process.exit(1); }
process.kill(${gateway.pid}); setTimeout(() => {}, 60_000);\n`,
    );
    const result = await request(release, gateway.pid!);
    expect(result).toMatchObject({ exited: true, attempts: 2 });
    expect(result.refused).toBeUndefined();
  }, 40_000);
});
