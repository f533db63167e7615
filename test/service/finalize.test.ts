// The verdict of OpenClaw's `update finalize --json` (service/finalize.ts readVerdict): exit 0 with `ok` or `warning` is
// a success; `failed`, a non-zero exit, output that is not its JSON, or the deadline is a failure, with the stderr tail.
import { describe, expect, it } from 'vitest';
import { readVerdict } from '../../src/service/finalize.ts';

const run = (output: string, exitCode: number | null, timedOut = false) =>
  readVerdict({ output, stderr: 'line 1\n[update finalize] {"step":"finalize:doctor"}', exitCode, ms: 5, timedOut });

describe('readVerdict', () => {
  it('ok and warning with exit 0 succeed, phases and plugin results kept', () => {
    const json = {
      status: 'warning',
      phaseTimings: [{ phase: 'doctor', startedOffsetMs: 9, durationMs: 31821, outcome: 'completed' }],
      postUpdate: { doctor: { status: 'warning', warnings: ['w'] }, plugins: { status: 'ok', changed: false } },
    };
    expect(run(JSON.stringify(json), 0)).toEqual({
      ok: true,
      exitCode: 0,
      status: 'warning',
      ms: 5,
      phases: [{ phase: 'doctor', durationMs: 31821, outcome: 'completed' }],
      doctor: { status: 'warning', warnings: ['w'] },
      plugins: { status: 'ok', changed: false, warnings: undefined, npm: undefined },
    });
    expect(run('{"status":"ok"}', 0)).toMatchObject({ ok: true, status: 'ok' });
  });

  it('failed, a non-zero exit, unreadable output and the deadline fail, with the stderr tail', () => {
    expect(run('{"status":"failed","stuckPhase":"doctor","error":"x"}', 1)).toMatchObject({
      ok: false,
      status: 'failed',
      stuckPhase: 'doctor',
      error: 'x',
      stderrTail: expect.stringContaining('finalize:doctor'),
    });
    expect(run('{"status":"ok"}', 1)).toMatchObject({ ok: false, status: 'ok', exitCode: 1 });
    expect(run('Error: boom', 0)).toMatchObject({ ok: false, status: 'unreadable' });
    expect(run('', null, true)).toMatchObject({ ok: false, status: 'timed-out', exitCode: null });
  });
});
