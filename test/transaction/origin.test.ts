// Who started a transaction and why: what the CLI reads of its process (environment.ts), how a call's own reason
// fills what the caller left out (origin.ts), that state.schema.json names the same values as the code, and the words
// `status` and `list` say it in (format.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { originOf as cliOrigin } from '../../src/cli/environment.ts';
import { originText, statusStory } from '../../src/cli/format.ts';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import { ORIGIN_BY, ORIGIN_WHY, type Transaction } from '../../src/model/state.ts';
import { originOf } from '../../src/transaction/origin.ts';

describe('the CLI says who runs it', () => {
  it('a person: command, and the account (SUDO_USER under sudo)', () => {
    expect(cliOrigin({}).by).toBe('command');
    expect(cliOrigin({}).user).toBeTruthy();
    expect(cliOrigin({ SUDO_USER: 'alice' })).toEqual({ by: 'command', user: 'alice' });
  });

  it('RELEASE_SWITCHER_ORIGIN names a caller that runs the CLI for someone else (the Ansible module: fleet)', () => {
    expect(cliOrigin({ RELEASE_SWITCHER_ORIGIN: 'fleet', SUDO_USER: 'ops' })).toEqual({ by: 'fleet', user: 'ops' });
    expect(cliOrigin({ RELEASE_SWITCHER_ORIGIN: '' }).by).toBe('command');
  });

  it('an unknown RELEASE_SWITCHER_ORIGIN is a USAGE error naming the values', () => {
    const error = (() => {
      try {
        return cliOrigin({ RELEASE_SWITCHER_ORIGIN: 'cron' });
      } catch (e) {
        return e;
      }
    })();
    expect(isReleaseSwitcherError(error) && error.code).toBe('USAGE');
    expect((error as Error).message).toBe(`RELEASE_SWITCHER_ORIGIN=cron is not one of ${ORIGIN_BY.join(', ')}.`);
  });
});

describe("a transaction's origin", () => {
  it("the caller's words win; the call's own reason fills the rest; nobody named is a program (api)", () => {
    expect(originOf(undefined, { why: 'requested', detail: 'update 1.2.0' })).toEqual({
      by: 'api',
      why: 'requested',
      detail: 'update 1.2.0',
    });
    expect(originOf({ by: 'command', user: 'alice' }, { why: 'channel', detail: 'update' })).toEqual({
      by: 'command',
      why: 'channel',
      user: 'alice',
      detail: 'update',
    });
    expect(
      originOf({ by: 'timer', why: 'current_deprecated', detail: '1.2.0 is deprecated' }, { why: 'requested' }),
    ).toEqual({ by: 'timer', why: 'current_deprecated', detail: '1.2.0 is deprecated' });
  });

  it('state.schema.json names exactly the values of the code', () => {
    const schema = JSON.parse(
      readFileSync(path.join(import.meta.dirname, '../../layout/state.schema.json'), 'utf8'),
    ) as { $defs: { transaction: { properties: { origin: { properties: Record<string, { enum?: string[] }> } } } } };
    const origin = schema.$defs.transaction.properties.origin.properties;
    expect(origin.by!.enum).toEqual([...ORIGIN_BY]);
    expect(origin.why!.enum).toEqual([...ORIGIN_WHY]);
  });
});

describe('status and list say it in words', () => {
  const tx = (over: Partial<Transaction>): Transaction => ({
    id: '20261127000000-abcdef',
    kind: 'update',
    status: 'verified',
    from: '1.0.0',
    to: '1.2.0',
    reason: null,
    startedAt: '2026-11-27T00:00:00.000Z',
    finishedAt: '2026-11-27T00:00:05.000Z',
    steps: [],
    ...over,
  });

  it("a tick's update: by the timer, a newer release on the channel", () => {
    const origin = { by: 'timer', why: 'newer_version', detail: 'update 1.0.0 -> 1.2.0' } as const;
    expect(originText(origin)).toBe(
      'started by the auto-update timer: a newer release on the channel (update 1.0.0 -> 1.2.0)',
    );
    const story = statusStory({ current: '1.2.0', previous: '1.0.0', transaction: tx({ origin }) });
    expect(story).toContain(
      '\nStarted by the auto-update timer: a newer release on the channel (update 1.0.0 -> 1.2.0).',
    );
  });

  it("a deprecation's rollback, a person's command, the boot-check's crash loop", () => {
    expect(originText({ by: 'timer', why: 'current_deprecated' })).toBe(
      'started by the auto-update timer: the running release was deprecated on the registry',
    );
    expect(originText({ by: 'command', why: 'requested', user: 'alice', detail: 'switch 1.0.0' })).toBe(
      'started by a command (alice): asked for (switch 1.0.0)',
    );
    expect(originText({ by: 'boot-check', why: 'failed_verification' })).toBe(
      "started by the unit's boot-check: the release failed its verification",
    );
  });

  it('a paused auto-updater is said loudly; an old transaction without an origin says nothing of it', () => {
    const story = statusStory({
      current: '1.2.0',
      previous: null,
      transaction: tx({}),
      autoUpdate: { paused: true, since: '2026-11-27T01:00:00.000Z', user: 'alice', reason: 'freeze' },
    });
    expect(story).toContain(
      'Auto-update is PAUSED since 2026-11-27T01:00:00.000Z by alice (freeze): ticks do nothing until release-switcher timer --resume.',
    );
    expect(story).not.toMatch(/Started by/);
    expect(
      statusStory({ current: '1.2.0', previous: null, transaction: null, autoUpdate: { paused: false } }),
    ).not.toMatch(/PAUSED/);
  });
});
