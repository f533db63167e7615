// One mutation at a time: busy exits 5, --wait waits, a dead holder's lock is taken over.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rs, templateRoot } from '../support/cli.ts';
import { currentIsValid, readState, stagingEntries } from '../support/root.ts';
import type { Transaction } from '../../src/model/state.ts';

const freshRoot = templateRoot(['1.0.0', '1.1.0']);

const flips = (n: number) => Array.from({ length: n }, (_, i) => ['switch', i % 2 ? '1.0.0' : '1.1.0']);

describe('lock', () => {
  it('8 processes at once: each either succeeds or exits 5 BUSY, and the root stays consistent', async () => {
    const root = freshRoot();
    const results = await Promise.all(flips(8).map((args) => rs(root, args)));
    for (const r of results) {
      expect([0, 5], r.stdout + r.stderr).toContain(r.exitCode);
      if (r.exitCode === 5) {
        expect(r.json.error.code).toBe('BUSY');
        expect(r.json.error.hint).toMatch(/--wait/);
      }
    }
    expect(results.filter((r) => r.exitCode === 0).length).toBeGreaterThanOrEqual(1);
    expect(results.filter((r) => r.exitCode === 5).length).toBeGreaterThanOrEqual(1);
    expect(currentIsValid(root)).toBe(true);
    expect(readState(root).transaction).toBeNull();
  });

  it('8 processes with --wait all succeed, one after another', async () => {
    const root = freshRoot();
    const results = await Promise.all(flips(8).map((args) => rs(root, [...args, '--wait', '60'])));
    expect(results.map((r) => r.exitCode)).toEqual(Array(8).fill(0));
    const switched = results.filter((r) => r.json.result.status === 'switched').length;
    expect(switched + results.filter((r) => r.json.result.status === 'up_to_date').length).toBe(8);
    const history = readState(root).history;
    expect(history.length).toBe(switched + 1); // the template's own switch too
    // Serialized: no two transactions overlap in time.
    const spans = history.slice(1).map((t: Transaction) => [Date.parse(t.startedAt), Date.parse(t.finishedAt)]);
    spans.sort((a: number[], b: number[]) => a[0]! - b[0]!);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]!);
    expect(stagingEntries(root)).toEqual([]);
  });

  it('a live holder makes others busy and names itself', async () => {
    const root = freshRoot();
    mkdirSync(join(root, '.lock'));
    writeFileSync(
      join(root, '.lock-owner.json'),
      JSON.stringify({
        pid: process.pid,
        hostname: hostname(),
        command: 'test holder',
        since: new Date().toISOString(),
      }),
    );
    const r = await rs(root, ['switch', '1.1.0']);
    expect([r.exitCode, r.json.error.code]).toEqual([5, 'BUSY']);
    expect(r.json.error.message).toMatch(new RegExp(`pid ${process.pid}.*test holder`));
  });

  // Issue 21 item 3: a recorded pid is checked before it is signalled, even with signal 0. kill(-1, 0) and kill(0, 0)
  // probe process groups and always answer, so an owner record naming -1 or 0 passed for a live holder (BUSY).
  it('an owner record naming no process (pid -1, 0) is a dead holder: taken over at once, not BUSY', async () => {
    for (const pid of [-1, 0]) {
      const root = freshRoot();
      mkdirSync(join(root, '.lock'));
      writeFileSync(
        join(root, '.lock-owner.json'),
        JSON.stringify({ pid, hostname: hostname(), command: 'damaged', since: new Date().toISOString() }),
      );
      const r = await rs(root, ['switch', '1.1.0']);
      expect(r.exitCode, `pid ${pid}: ${r.stdout}`).toBe(0);
    }
  });

  it('a lock whose holder vanished without a trace is taken over once it is stale (10 s)', async () => {
    const root = freshRoot();
    mkdirSync(join(root, '.lock'));
    const old = new Date(Date.now() - 11_000);
    utimesSync(join(root, '.lock'), old, old);
    const r = await rs(root, ['switch', '1.1.0']);
    expect(r.exitCode, r.stdout).toBe(0);
  });

  it('a lock that is fresh and has no owner record is respected, and --wait outlasts it once stale', async () => {
    const root = freshRoot();
    mkdirSync(join(root, '.lock'));
    const busy = await rs(root, ['switch', '1.1.0']);
    expect(busy.exitCode).toBe(5);
    const waited = await rs(root, ['switch', '1.1.0', '--wait', '30']);
    expect(waited.exitCode, waited.stdout).toBe(0);
  }, 45_000);

  it('--wait alone waits as long as it takes; a version after it is the operand, not its value', async () => {
    const root = freshRoot();
    mkdirSync(join(root, '.lock')); // no owner record: respected until stale (10 s), past any default wait
    const started = Date.now();
    const waited = await rs(root, ['switch', '--wait', '1.1.0']);
    expect(waited.exitCode, waited.stdout + waited.stderr).toBe(0);
    expect(Date.now() - started).toBeGreaterThan(5_000); // it did wait for the lock, not fail at once with 5
    mkdirSync(join(root, '.lock'));
    const last = await rs(root, ['switch', '1.0.0', '--wait']);
    expect(last.exitCode, last.stdout + last.stderr).toBe(0);
    expect((await rs(root, ['status'])).json.result.current).toBe('1.0.0');
  }, 60_000);
});
