// `npm run demo` is part of the product: it must run, offline, and tell the whole story.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('npm run demo', () => {
  it('installs, runs under pm2, updates (verified), rolls a broken release back, lists, and cleans up', () => {
    const out = execFileSync(process.execPath, [resolve(import.meta.dirname, '../scripts/demo.mjs')], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(out).toMatch(/update 1\.0\.0 → 1\.1\.0: verified/);
    expect(out).toMatch(/the service answers: \{"status":"ok","version":"1\.1\.0"\}/);
    expect(out).toMatch(
      /error ROLLED_BACK: 1\.2\.0 failed \(crashed\); 1\.1\.0 is running again and verified\.\n.*\n\s+\(exit 3\)/,
    );
    expect(out).toMatch(/1\.2\.0\s+bad \(crashed\)/);
    expect(out).toMatch(/Running 1\.1\.0; previous 1\.0\.0 is the rollback target\./);
    expect(out).toMatch(/cleaned up: pm2 daemon stopped, temp root removed/);
  });
});
