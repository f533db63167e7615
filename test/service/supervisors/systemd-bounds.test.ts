// How long we wait for a systemd job on the unit: what the unit itself allows (TimeoutStopSec, TimeoutStartSec) and a
// margin, never under 300 s. openclaw's unit stops in up to 330 s (its drain): a 300 s bound gave up on a rollback's
// restart while systemd was still stopping the gateway, and left the rollback failed.
import { describe, expect, it } from 'vitest';
import { systemdSupervisor } from '../../../src/service/supervisors/systemd.ts';
import type { CommandRunner } from '../../../src/service/supervisors/types.ts';
import { timespanSeconds } from '../../../src/service/timespan.ts';

/** A systemctl that answers `show` with the given timeouts and records the bound each job was given. */
function recording(timeouts: { start: string; stop: string }) {
  const jobs: { verb: string; timeoutMs: number }[] = [];
  const runner: CommandRunner = async (_file, args, options) => {
    const verb = args.find((a) => ['show', 'start', 'stop', 'restart', 'reset-failed'].includes(a))!;
    if (verb === 'show')
      return {
        exitCode: 0,
        output: `TimeoutStartUSec=${timeouts.start}\nTimeoutStopUSec=${timeouts.stop}\n`,
        timedOut: false,
      };
    if (verb !== 'reset-failed') jobs.push({ verb, timeoutMs: options.timeoutMs });
    return { exitCode: 0, output: '', timedOut: false };
  };
  return { jobs, supervisor: systemdSupervisor({ unit: 'gw.service', scope: 'user', env: {}, runner }) };
}

describe('systemd jobs are bounded by the unit', () => {
  it('reads systemd time spans as systemctl show prints them', () => {
    expect(timespanSeconds('5min 30s')).toBe(330);
    expect(timespanSeconds('90s')).toBe(90);
    expect(timespanSeconds('1h 2min')).toBe(3720);
    expect(timespanSeconds('500ms')).toBe(0.5);
    expect(timespanSeconds('infinity')).toBe(Infinity);
    expect(timespanSeconds('')).toBeUndefined();
    expect(timespanSeconds('5 fortnights')).toBeUndefined();
  });

  it("openclaw's unit (stop 5min 30s, start 30s): a restart waits past its drain", async () => {
    const { jobs, supervisor } = recording({ start: '30s', stop: '5min 30s' });
    await supervisor.restart();
    await supervisor.stop!();
    await supervisor.start!();
    expect(jobs).toEqual([
      { verb: 'restart', timeoutMs: 330_000 + 30_000 + 60_000 },
      { verb: 'stop', timeoutMs: 330_000 + 60_000 },
      { verb: 'start', timeoutMs: 300_000 }, // never under 300 s
    ]);
  });

  it('an infinite timeout is systemd to keep: a day', async () => {
    const { jobs, supervisor } = recording({ start: 'infinity', stop: '10s' });
    await supervisor.restart();
    await supervisor.stop!();
    expect(jobs).toEqual([
      { verb: 'restart', timeoutMs: 86_400_000 },
      { verb: 'stop', timeoutMs: 300_000 },
    ]);
  });

  it('a finite timeout past a day (1M) is bounded at a day too: a timer past 2^31 ms would fire at once', async () => {
    const { jobs, supervisor } = recording({ start: '30s', stop: '1M' });
    await supervisor.stop!();
    await supervisor.start!();
    expect(jobs).toEqual([
      { verb: 'stop', timeoutMs: 86_400_000 },
      { verb: 'start', timeoutMs: 300_000 },
    ]);
  });
});
