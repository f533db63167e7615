// `npm run demo` is part of the product: it must run, offline, and tell the whole story.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('npm run demo', () => {
  it('node-http preset: installs, runs under pm2, updates with a migration (verified), rolls a broken release and its migration back, lists, and cleans up', () => {
    const out = execFileSync(process.execPath, [resolve(import.meta.dirname, '../scripts/demo.mjs')], {
      encoding: 'utf8',
      // A bound for a hang, not a speed check: the demo took 32 s in CI's table (test/durations.json) and over the
      // 60 s default at a load average of 8 (the Node 20 pass beside the openclaw tier on 2 cores).
      timeout: 240_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
    // The preset is the root's, and its state folder is the one pm2 passes the service (STATE_DIR).
    expect(out).toMatch(/\$ release-switcher init --preset node-http --package demo-gateway/);
    expect(out).toMatch(/its state \(STATE_DIR\/state\.json\): \{"schema":1,"seededBy":"1\.0\.0"\}/);
    // 1.1.0's migrate.js ran in the stop window (the record's finalize step) and the state is at schema 2.
    expect(out).toMatch(/update 1\.0\.0 → 1\.1\.0: verified/);
    expect(out).toMatch(/\n\s+finalize\s+ok\s+\d+ ms\s+1\.1\.0 migration: ok \(exit 0, \d+ ms\)\n/);
    expect(out).toMatch(/stop window [\d.]+ s: stop [\d.]+ s, checkpoint [\d.]+ s, finalize [\d.]+ s, start/);
    const migrated = '{"schema":2,"seededBy":"1.0.0","migrations":["1->2"]}';
    const states = [...out.matchAll(/its state \(STATE_DIR\/state\.json\): (.*)\n/g)].map((m) => m[1]);
    // 1.0.0's seed, 1.1.0's migration, and after the failed 1.2.0 exactly what 1.1.0 left.
    expect(states).toEqual(['{"schema":1,"seededBy":"1.0.0"}', migrated, migrated]);
    expect(out).toMatch(/the service answers: \{"status":"ok","version":"1\.1\.0","schema":2\}/);
    expect(out).toMatch(
      /error ROLLED_BACK: 1\.2\.0 failed \(crashed\); 1\.1\.0 is running again and verified\.\n.*\n\s+\(exit 3\)/,
    );
    // 1.2.0 migrated (2 -> 3) before it crashed; the checkpoint taken before its migration went back before 1.1.0 started.
    expect(out).toMatch(/\n\s+finalize\s+ok\s+\d+ ms\s+1\.2\.0 migration: ok \(exit 0, \d+ ms\)\n/);
    expect(out).toMatch(/restore-state\s+ok\s+\d+ ms\s+snapshot \S+ put back by runner before 1\.1\.0 started: /);
    expect(out).toMatch(/1\.2\.0\s+bad \(crashed\)/);
    expect(out).toMatch(/Running 1\.1\.0; previous 1\.0\.0 is the rollback target\./);
    expect(out).toMatch(/cleaned up: pm2 daemon stopped, temp root removed/);
  }, 300_000);
});
