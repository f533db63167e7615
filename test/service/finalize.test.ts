// The verdict of OpenClaw's `update finalize --json` (service/finalize.ts readVerdict): exit 0 with `ok` or `warning` is
// a success; `failed`, a non-zero exit, output that is not its JSON, or the deadline is a failure, with the stderr tail.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.ts';
import { alive } from '../support/processes.ts';
import { updateTransaction } from '../support/transactions.ts';
import { finalizeWarnings, phaseTimeoutSeconds, readVerdict, startFinalize } from '../../src/service/finalize.ts';
import { describeTransaction } from '../../src/cli/format.ts';

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

// A finalize at `warning` succeeded, but what it warns of must reach the operator (the transaction's warnings, the
// CLI's output): the shape below is 2026.9.6's own, from an update with @openclaw/matrix on the real gateway.
describe('finalizeWarnings', () => {
  const consent = 'Plugin "discord" needs your consent for new capabilities; it stays on 2026.9.5.';
  const json = {
    status: 'warning',
    postUpdate: {
      doctor: {
        status: 'warning',
        warnings: [
          'Plugin "matrix" data/settings upgrade is unfinished: Package convergence must wait until the updating parent releases its install records.',
          'core/doctor/security: WARNING: openclaw.json contains plaintext secret-bearing config fields.',
        ],
      },
      plugins: {
        status: 'warning',
        changed: true,
        warnings: [
          {
            reason: 'doctor-advisory',
            message: 'WARNING: openclaw.json contains plaintext secret-bearing config fields.',
            guidance: ['openclaw secrets configure'],
          },
        ],
        npm: {
          changed: true,
          outcomes: [
            { pluginId: 'matrix', status: 'updated', message: 'Updated matrix: 2026.9.5 -> 2026.9.6.' },
            { pluginId: 'discord', status: 'error', code: 'PLUGIN_CAPABILITY_CONSENT_REQUIRED', message: consent },
          ],
        },
      },
    },
  };

  it("a warning verdict: the plugins' warnings, the npm outcomes in error, then Doctor's not already said", () => {
    expect(finalizeWarnings(run(JSON.stringify(json), 0))).toEqual([
      {
        step: 'finalize',
        code: 'doctor-advisory',
        message: 'WARNING: openclaw.json contains plaintext secret-bearing config fields.',
      },
      { step: 'finalize', code: 'PLUGIN_CAPABILITY_CONSENT_REQUIRED', plugin: 'discord', message: consent },
      {
        step: 'finalize',
        plugin: 'matrix',
        message:
          'Plugin "matrix" data/settings upgrade is unfinished: Package convergence must wait until the updating parent releases its install records.',
      },
    ]);
  });

  it('nothing for ok or failed; a warning with no text still says so', () => {
    expect(finalizeWarnings(run(JSON.stringify({ ...json, status: 'ok' }), 0))).toEqual([]);
    expect(finalizeWarnings(run(JSON.stringify({ ...json, status: 'failed' }), 1))).toEqual([]);
    expect(finalizeWarnings(run('{"status":"warning"}', 0))).toEqual([
      { step: 'finalize', message: 'update finalize ended with status warning and no warning text' },
    ]);
  });

  it("the CLI's account of the transaction prints each warning on a line of its own", () => {
    const tx = updateTransaction({
      steps: [{ name: 'finalize', status: 'ok', ms: 1000, detail: '2026.9.6 update finalize: warning' }],
      warnings: finalizeWarnings(run(JSON.stringify(json), 0)),
    });
    const lines = describeTransaction(tx).split('\n');
    expect(lines.slice(2)).toEqual([
      '  warning: (finalize, doctor-advisory) WARNING: openclaw.json contains plaintext secret-bearing config fields.',
      `  warning: (finalize, plugin discord, PLUGIN_CAPABILITY_CONSENT_REQUIRED) ${consent}`,
      expect.stringMatching(
        /^ {2}warning: \(finalize, plugin matrix\) Plugin "matrix" data\/settings upgrade is unfinished/,
      ),
    ]);
  });
});

describe('startFinalize', () => {
  it('gives the command its per-phase deadline from our bound, and ends what it left running when it exits', async () => {
    const dir = tempDir('rs-finalize-');
    const release = join(dir, 'release');
    mkdirSync(join(release, 'dist'), { recursive: true });
    // A finalize that answers ok at once and leaves two processes behind: one in its group, one in a session of its
    // own (out of the group, still carrying the marker in its environment), each writing its pid where we can see it.
    writeFileSync(
      join(release, 'dist', 'index.js'),
      `const { spawn } = require('node:child_process');
const fs = require('node:fs');
fs.writeFileSync(${JSON.stringify(join(dir, 'argv.json'))}, JSON.stringify(process.argv.slice(2)));
const inGroup = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
const ownSession = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', detached: true });
fs.writeFileSync(${JSON.stringify(join(dir, 'pids.json'))}, JSON.stringify([inGroup.pid, ownSession.pid]));
inGroup.unref(); ownSession.unref();
process.stdout.write(JSON.stringify({ status: 'ok' }));
process.exit(0);
`,
    );
    const started = await startFinalize({
      node: process.execPath,
      releaseDir: release,
      args: ['dist/index.js', 'update', 'finalize', '--json'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      outputDir: join(dir, 'out'),
      tx: `t-${process.pid}-${Date.now()}`,
      timeoutMs: 1_800_000,
      phaseTimeoutFlag: '--timeout',
    });
    const verdict = await started.verdict;
    expect(verdict).toMatchObject({ ok: true, status: 'ok', leftoversEnded: true });
    expect(JSON.parse(readFileSync(join(dir, 'argv.json'), 'utf8'))).toEqual([
      'update',
      'finalize',
      '--json',
      '--timeout',
      '885',
    ]);
    const pids = JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as number[];
    expect(pids.filter((pid) => alive(pid))).toEqual([]);
    expect(existsSync(join(dir, 'out'))).toBe(true);
  });

  it('a phase past its deadline and its settling wait fit in our bound, with a margin; never under 30 s', () => {
    expect(phaseTimeoutSeconds(1_800_000)).toBe(885);
    expect(2 * phaseTimeoutSeconds(1_800_000) + 30).toBeLessThanOrEqual(1800);
    expect(phaseTimeoutSeconds(60_000)).toBe(30);
  });
});
