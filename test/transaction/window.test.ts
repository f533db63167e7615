import { describe, expect, it } from 'vitest';
import { describeTransaction } from '../../src/cli/format.ts';
import { StopWindow } from '../../src/transaction/window.ts';
import { fixtureRoots } from '../support/fixture-root.ts';
import { type Behaviour, fakeSupervision, switchThrough } from './fake-supervisor.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot(
  'it drives transactions in this process (as root) on roots it made: root acts only on roots of its own',
);

describe('StopWindow', () => {
  it('parts run from one mark to the next, the last to the close; their sum is the window', () => {
    let now = 1000;
    const window = new StopWindow(() => now);
    window.next('checkpoint'); // nothing stopped yet: not in the window
    window.open('handoff');
    now += 4200;
    window.next('stop');
    now += 100;
    window.open('stop'); // open again, same part: no new part
    window.next('finalize');
    now += 40_000;
    window.open('start');
    now += 150;
    window.next('start-to-healthy');
    const verifying = now;
    now += 20_000; // the stability wait after the first healthy answer is not in the window
    window.close(verifying + 17_500);
    expect(window.record()).toEqual({
      parts: [
        { part: 'handoff', ms: 4200 },
        { part: 'stop', ms: 100 },
        { part: 'finalize', ms: 40_000 },
        { part: 'start', ms: 150 },
        { part: 'start-to-healthy', ms: 17_500 },
      ],
      totalMs: 61_950,
    });
    window.next('late'); // closed: nothing more
    expect(window.record()?.parts).toHaveLength(5);
  });

  it('opened at a time already past (when the old process was seen to stop serving): the first part starts there', () => {
    let now = 10_000;
    const window = new StopWindow(() => now);
    window.openAt('handoff', 7_500); // the request went out at 7 000, the health URL stopped answering at 7 500
    window.openAt('handoff', 7_000); // open already: nothing
    now = 12_000;
    window.next('finalize');
    now = 15_000;
    window.close();
    expect(window.record()).toEqual({
      parts: [
        { part: 'handoff', ms: 4_500 },
        { part: 'finalize', ms: 3_000 },
      ],
      totalMs: 7_500,
    });
    const future = new StopWindow(() => 100);
    future.openAt('handoff', 500); // never later than now
    future.close();
    expect(future.record()).toEqual({ parts: [{ part: 'handoff', ms: 0 }], totalMs: 0 });
  });

  it('watched from the flip: opens where the serving process first failed to answer, however late it is opened', () => {
    let now = 1_000;
    const window = new StopWindow(() => now);
    let watched = 0;
    // The process restarted on its own at 4 000 (its installation changed under it), before the request went out.
    window.watch({
      stop: () => {
        watched++;
        return 4_000;
      },
    });
    now = 9_000;
    window.openAt('handoff', 8_000); // the request at 8 000: the watch's earlier time wins
    now = 10_000;
    window.next('finalize');
    window.close(12_000);
    expect(window.record()).toEqual({
      parts: [
        { part: 'handoff', ms: 6_000 },
        { part: 'finalize', ms: 2_000 },
      ],
      totalMs: 8_000,
    });
    expect(watched).toBe(1); // stopped once the window opened
    window.unwatch();
    expect(watched).toBe(1);
    // Nothing seen failing: the watch answers now, and open() opens now; a watch never later than now.
    const plain = new StopWindow(() => now);
    plain.watch({ stop: () => 99_999 });
    plain.open('stop');
    plain.close(now + 500);
    expect(plain.record()).toEqual({ parts: [{ part: 'stop', ms: 500 }], totalMs: 500 });
    // A run that went back before anything stopped: the watch is ended, no window.
    let ended = false;
    const unopened = new StopWindow(() => now);
    unopened.watch({
      stop: () => {
        ended = true;
        return now;
      },
    });
    unopened.unwatch();
    expect(ended).toBe(true);
    expect(unopened.record()).toBeUndefined();
  });

  it('never opened or never closed: no record', () => {
    const closedOnly = new StopWindow(() => 5);
    closedOnly.close();
    expect(closedOnly.record()).toBeUndefined();
    const open = new StopWindow(() => 5);
    open.open('start');
    expect(open.record()).toBeUndefined();
  });
});

const freshRoot = fixtureRoots(['1.0.0', '1.2.0']);
const supervise = fakeSupervision();

async function switchWith(behaviour: Record<string, Behaviour>) {
  const root = freshRoot();
  const fake = await supervise(root, behaviour, { stableFor: 1 });
  return switchThrough(root, fake, '1.2.0');
}

// Each with a root and a fake supervisor of its own, mostly waiting on its verify: side by side.
describe.concurrent('the window of an activation', () => {
  it('verified: the restart and the time to the first healthy answer, not the stability wait; the CLI says it', async () => {
    const tx = await switchWith({});
    expect(tx.status).toBe('verified');
    expect(tx.window?.parts.map((p) => p.part)).toEqual(['start', 'start-to-healthy']);
    const sum = tx.window!.parts.reduce((total, p) => total + p.ms, 0);
    expect(Math.abs(sum - tx.window!.totalMs)).toBeLessThanOrEqual(1);
    const verify = tx.steps.find((s) => s.name === 'verify')!;
    expect(tx.window!.totalMs).toBeLessThan(verify.ms); // stable for 1 s after the first healthy answer: outside
    expect(describeTransaction(tx)).toMatch(
      /\n {2}stop window \d+\.\d s: start \d+\.\d s, start-to-healthy \d+\.\d s(\n|$)/,
    );
  });

  it('rolled back: no window recorded', async () => {
    const tx = await switchWith({ '1.2.0': 'unhealthy' });
    expect(tx.status).toBe('rolled_back');
    expect(tx.window).toBeUndefined();
  });
});
