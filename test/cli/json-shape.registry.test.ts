// Every command's --json: exactly one document on stdout, the envelope of docs/exit-codes-and-json.md, the result's keys.
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { cli, tempDir } from '../support/cli.ts';

const TX_KEYS = ['id', 'kind', 'status', 'from', 'to', 'reason', 'startedAt', 'finishedAt', 'steps'];

describe('--json shape of every command', () => {
  it('prints one envelope per command, with the result the contract names', async () => {
    const root = join(tempDir('rs-json-'), 'root');
    const run = async (args: string[]) => {
      const r = await cli(['--root', root, '--json', ...args]);
      expect(r.stdout.trim().split('\n'), `${args[0]}: one line of JSON`).toHaveLength(1);
      expect(typeof r.json.ok).toBe('boolean');
      return r.json;
    };
    const keys = (value: object) => Object.keys(value).sort();

    expect(
      keys((await run(['init', '--package', 'rs-fixture-gateway', '--registry', inject('registryUrl')])).result),
    ).toEqual(['config', 'registered', 'root']);
    expect(keys((await run(['install', 'rs-fixture-gateway@1.0.0'])).result)).toEqual([
      'alreadyInstalled',
      'fallback',
      'integrity',
      'path',
      'provenance',
      'reused',
      'signatures',
      'version',
    ]);
    await run(['install', 'rs-fixture-gateway@1.1.0']);
    expect((await run(['install', 'rs-fixture-gateway@1.2.0', '--dry-run'])).result).toMatchObject({
      dryRun: true,
      version: '1.2.0',
    });
    const switched = (await run(['switch', '1.0.0'])).result;
    expect(keys(switched)).toEqual(expect.arrayContaining(TX_KEYS));
    for (const step of switched.steps) expect(keys(step)).toEqual(expect.arrayContaining(['ms', 'name', 'status']));
    expect(keys((await run(['update', '1.1.0'])).result)).toEqual(expect.arrayContaining(TX_KEYS));
    expect(keys((await run(['rollback'])).result)).toEqual(expect.arrayContaining(TX_KEYS));
    const list = (await run(['list'])).result;
    expect(keys(list)).toEqual(['current', 'previous', 'releases']);
    expect(keys(list.releases[0])).toEqual([
      'activatedBy',
      'current',
      'installedAt',
      'integrity',
      'pinned',
      'previous',
      'provenance',
      'signatures',
      'source',
      'state',
      'version',
    ]);
    expect(keys((await run(['status'])).result)).toEqual([
      'autoUpdate',
      'bootCheck',
      'current',
      'previous',
      'running',
      'transaction',
    ]);
    expect((await run(['status'])).result.running).toBeNull(); // supervisor none, no health endpoint: nothing can tell
    expect((await run(['pin', '1.0.0'])).result).toEqual({ version: '1.0.0', pinned: true });
    expect((await run(['unpin', '1.0.0'])).result).toEqual({ version: '1.0.0', pinned: false });
    expect(keys((await run(['prune', '--keep', '5'])).result)).toEqual(expect.arrayContaining(['kept', 'removed']));
    expect((await run(['recover'])).result).toBeNull();
    const doctor = (await run(['doctor'])).result;
    for (const check of doctor.checks) expect(keys(check)).toEqual(['detail', 'name', 'ok']);
    expect((await run(['check'])).result).toMatchObject({ current: '1.0.0', latest: '1.2.0' });
    expect((await run(['unit', '--entry', 'server.js'])).error.code).toBe('UNSUPPORTED'); // supervisor none has no unit
    await run(['init', '--supervisor', 'systemd', '--unit', 'rs-json.service']);
    expect(keys((await run(['unit', '--entry', 'server.js'])).result)).toEqual(
      expect.arrayContaining(['content', 'installed', 'kind', 'path']),
    );
    await run(['init', '--supervisor', 'none']);
    expect((await run(['timer'])).result).toMatchObject({ installed: false });
    expect((await run(['boot-check'])).result).toMatchObject({ version: '1.0.0', action: 'counted', tries: 1 }); // 1.0.0 is pending: never verified
    const failure = await run(['switch', '9.9.9']);
    expect(failure).toMatchObject({
      ok: false,
      error: { code: 'RELEASE_NOT_FOUND', message: expect.any(String), hint: expect.any(String) },
    });
    const usage = await cli(['--root', root, '--json', 'switch']);
    expect([usage.exitCode, usage.json.error.code]).toEqual([2, 'USAGE']);
    // Some twenty CLI runs in a row, an install and a switch among them: 60 s was too little for a loaded machine.
  }, 240_000);
});
