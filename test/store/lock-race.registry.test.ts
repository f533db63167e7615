// The lock under real processes: racers for a dead owner's lock never overlap, and a holder frozen past the stale
// time (SIGSTOP) learns it lost the lock before its next write. Children run the built library (dist/).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.ts';
import { LOCK_STALE_MS } from '../../src/store/lock.ts';

const LOCK = resolve(import.meta.dirname, '../../dist/store/lock.js');
const CRASHPOINT = resolve(import.meta.dirname, '../../dist/platform/crashpoint.js');

/** A child that takes the lock, then (inside) records itself in `inside/`, checks it is alone, waits, leaves. */
const RACER = `
import fs from 'node:fs';
import { withLock, assertLockHeld } from ${JSON.stringify(LOCK)};
import { armCrashPoint } from ${JSON.stringify(CRASHPOINT)};
const [root, holdMs, waitSeconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
armCrashPoint(process.env.CRASH_AT);
const inside = root + '/inside';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  await withLock(root, { command: 'racer', waitSeconds }, async () => {
    fs.writeFileSync(inside + '/' + process.pid, '');
    fs.writeFileSync(root + '/entered-' + process.pid, '');
    const others = () => fs.readdirSync(inside).filter((p) => p !== String(process.pid));
    if (others().length) fs.writeFileSync(root + '/overlap-' + process.pid, others().join(','));
    await sleep(holdMs);
    await assertLockHeld(root);
    if (others().length) fs.writeFileSync(root + '/overlap-' + process.pid, others().join(','));
    fs.writeFileSync(root + '/wrote-' + process.pid, '');
    fs.rmSync(inside + '/' + process.pid);
  });
  console.log('held');
} catch (error) {
  console.log(error.code ?? String(error));
}
`;

function setup(): { root: string; script: string } {
  const dir = tempDir('rs-lock-');
  const root = join(dir, 'root');
  mkdirSync(join(root, 'inside'), { recursive: true });
  const script = join(dir, 'racer.mjs');
  writeFileSync(script, RACER);
  return { root, script };
}

function racer(
  script: string,
  root: string,
  holdMs: number,
  waitSeconds: number,
  crashAt?: string,
): { child: ChildProcess; done: Promise<string> } {
  const child = spawn(process.execPath, [script, root, String(holdMs), String(waitSeconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CRASH_AT: crashAt ?? '' },
  });
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  return { child, done: new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal ?? out.trim()))) };
}

/** A pid that belonged to a process of this host that has exited. */
function deadPid(): number {
  return Number(execFileSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).trim());
}

describe('lock takeover', () => {
  it("8 processes racing for a dead owner's lock, 20 times: never two holders, all get it in turn", async () => {
    for (let trial = 0; trial < 20; trial++) {
      const { root, script } = setup();
      mkdirSync(join(root, '.lock'));
      writeFileSync(
        join(root, '.lock-owner.json'),
        JSON.stringify({ pid: deadPid(), hostname: hostname(), command: 'dead', since: new Date().toISOString() }),
      );
      const racers = Array.from({ length: 8 }, () => racer(script, root, 50, 30));
      const results = await Promise.all(racers.map((r) => r.done));
      const overlaps = racers.map((r) => join(root, `overlap-${r.child.pid}`)).filter((f) => existsSync(f));
      expect(
        overlaps.map((f) => readFileSync(f, 'utf8')),
        `trial ${trial}`,
      ).toEqual([]);
      expect(results, `trial ${trial}`).toEqual(Array(8).fill('held'));
    }
  }, 240_000);

  it("a taker SIGKILLed while it holds its claim on a dead owner's lock: the next one takes over at once", async () => {
    const { root, script } = setup();
    mkdirSync(join(root, '.lock'));
    writeFileSync(
      join(root, '.lock-owner.json'),
      JSON.stringify({ pid: deadPid(), hostname: hostname(), command: 'dead', since: new Date().toISOString() }),
    );
    expect(await racer(script, root, 0, 0, 'lock:claimed').done).toBe('SIGKILL');
    expect(readdirSync(root).filter((name) => name.startsWith('.lock.takeover-'))).toHaveLength(1); // its claim, left behind
    const next = racer(script, root, 50, 0);
    expect(await next.done).toBe('held');
    expect(existsSync(join(root, `wrote-${next.child.pid}`))).toBe(true);
    expect(readdirSync(root).filter((name) => name.startsWith('.lock'))).toEqual([]); // lock, claims and nested claims all gone
  }, 30_000);

  it('a holder SIGKILLed while it holds the claim of its own release: the next one takes over at once', async () => {
    const { root, script } = setup();
    expect(await racer(script, root, 0, 0, 'lock:release-claimed').done).toBe('SIGKILL');
    expect(readdirSync(root).filter((name) => name.startsWith('.lock.takeover-'))).toHaveLength(1);
    const next = racer(script, root, 50, 0);
    expect(await next.done).toBe('held');
    expect(readdirSync(root).filter((name) => name.startsWith('.lock'))).toEqual([]);
  }, 30_000);

  it("8 racers for a dead owner's lock whose claim a killed taker left: never two holders, all get it in turn", async () => {
    for (let trial = 0; trial < 3; trial++) {
      const { root, script } = setup();
      mkdirSync(join(root, '.lock'));
      writeFileSync(
        join(root, '.lock-owner.json'),
        JSON.stringify({ pid: deadPid(), hostname: hostname(), command: 'dead', since: new Date().toISOString() }),
      );
      expect(await racer(script, root, 0, 0, 'lock:claimed').done).toBe('SIGKILL');
      const racers = Array.from({ length: 8 }, () => racer(script, root, 50, 30));
      const results = await Promise.all(racers.map((r) => r.done));
      const overlaps = racers.map((r) => join(root, `overlap-${r.child.pid}`)).filter((f) => existsSync(f));
      expect(
        overlaps.map((f) => readFileSync(f, 'utf8')),
        `trial ${trial}`,
      ).toEqual([]);
      expect(results, `trial ${trial}`).toEqual(Array(8).fill('held'));
    }
  }, 120_000);

  it('a holder SIGSTOPped past the stale time is taken over, and after SIGCONT it does not write', async () => {
    const { root, script } = setup();
    const frozen = racer(script, root, 1_500, 0);
    const deadline = Date.now() + 10_000;
    while (!existsSync(join(root, `entered-${frozen.child.pid}`)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    frozen.child.kill('SIGSTOP');
    // Past the stale time without waiting it out: the frozen holder cannot refresh, so its heartbeat (the lock
    // directory's mtime) is backdated beyond LOCK_STALE_MS, as 11 s of SIGSTOP would leave it.
    const past = new Date(Date.now() - LOCK_STALE_MS - 1_000);
    utimesSync(join(root, '.lock'), past, past);
    const taker = racer(script, root, 4_000, 0);
    while (!existsSync(join(root, `entered-${taker.child.pid}`)) && Date.now() < deadline + 15_000)
      await new Promise((r) => setTimeout(r, 20));
    frozen.child.kill('SIGCONT');
    expect(await frozen.done).toBe('LOCK_LOST');
    expect(existsSync(join(root, `wrote-${frozen.child.pid}`))).toBe(false);
    expect(await taker.done).toBe('held');
    expect(existsSync(join(root, `wrote-${taker.child.pid}`))).toBe(true);
    expect(existsSync(join(root, '.lock'))).toBe(false); // the taker released it; the frozen one did not touch it
  }, 60_000);
});
