// The auto-updater's rules, one by one, on plain data: no registry, no disk, a fixed clock.
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostIdOf } from '../../src/autoupdate/index.ts';
import {
  CONSENT_RETRY_HOURS,
  type PackumentView,
  type PolicyInput,
  decide,
  jitterSeconds,
  rolloutBucket,
} from '../../src/autoupdate/policy.ts';
import type { ReleaseRecord, ReleaseState } from '../../src/model/state.ts';
import { channelVersion } from '../../src/registry/dist-tags.ts';
import { tempDir } from '../support/cli.ts';

const NOW = new Date('2026-11-21T12:00:00.000Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString();

function packument(
  tags: Record<string, string>,
  versions: Record<string, { deprecated?: string; publishedHoursAgo?: number }>,
): PackumentView {
  return {
    'dist-tags': tags,
    versions: Object.fromEntries(
      Object.entries(versions).map(([v, meta]) => [v, meta.deprecated ? { deprecated: meta.deprecated } : {}]),
    ),
    time: Object.fromEntries(
      Object.entries(versions).map(([v, meta]) => [v, hoursAgo(meta.publishedHoursAgo ?? 1000)]),
    ),
  };
}

function records(states: Record<string, ReleaseState>): Record<string, ReleaseRecord> {
  return Object.fromEntries(
    Object.entries(states).map(([version, state]) => [
      version,
      { version, state, pinned: false, installedAt: hoursAgo(2000), integrity: null, source: tarballUrl(version) },
    ]),
  );
}

const REGISTRY_URL = 'https://registry.example/npm/';
const tarballUrl = (version: string) => `${REGISTRY_URL}openclaw/-/openclaw-${version}.tgz`;

const REGISTRY = packument(
  { latest: '1.2.0', beta: '2.0.0-beta.1' },
  { '1.0.0': {}, '1.1.0': {}, '1.2.0': {}, '2.0.0-beta.1': {} },
);

function input(overrides: Partial<PolicyInput> & { config?: Partial<PolicyInput['config']> } = {}): PolicyInput {
  return {
    packument: REGISTRY,
    releases: records({ '1.0.0': 'good' }),
    current: '1.0.0',
    hostId: 'host-a',
    registry: REGISTRY_URL,
    now: NOW,
    ...overrides,
    config: { channel: 'stable', cooldownHours: 0, rolloutPercent: 100, ...overrides.config },
  };
}

describe('channel → dist-tag', () => {
  it('stable follows latest', () => {
    expect(decide(input())).toMatchObject({ action: 'update', version: '1.2.0', latest: '1.2.0', candidate: '1.2.0' });
  });

  it('beta takes the newer of beta and latest', () => {
    expect(decide(input({ config: { channel: 'beta' } }))).toMatchObject({ action: 'update', version: '2.0.0-beta.1' });
    // A beta tag left behind a newer stable release: beta users get the stable one, never an older beta.
    const stale = packument({ latest: '2.0.0', beta: '2.0.0-beta.1' }, { '2.0.0': {}, '2.0.0-beta.1': {} });
    expect(decide(input({ packument: stale, config: { channel: 'beta' } }))).toMatchObject({
      action: 'update',
      version: '2.0.0',
    });
    expect(channelVersion({ latest: '1.2.0' }, 'beta')).toBe('1.2.0');
  });

  it('extended-stable takes its own tag exactly (never latest), and a tick never applies it: manual_channel', () => {
    const tags = packument({ latest: '1.2.0', 'extended-stable': '1.1.0' }, { '1.1.0': {}, '1.2.0': {} });
    expect(channelVersion({ latest: '1.2.0', 'extended-stable': '1.1.0' }, 'extended-stable')).toBe('1.1.0');
    expect(channelVersion({ latest: '1.2.0' }, 'extended-stable')).toBeNull(); // no fallback
    expect(decide(input({ packument: tags, config: { channel: 'extended-stable' } }))).toEqual(
      expect.objectContaining({
        action: 'none',
        reason: 'manual_channel',
        latest: '1.1.0',
        candidate: '1.1.0',
        detail: expect.stringMatching(
          /^extended-stable is never applied automatically; by hand: release-switcher update 1\.1\.0 /,
        ),
      }),
    );
    expect(decide(input({ packument: tags, config: { channel: 'extended-stable' } }))).not.toHaveProperty('version');
  });

  it("a candidate refused for want of consent waits a day (consent_required), then is reviewed again; another version or an operator's transaction ends the wait", () => {
    const refused = (finishedHoursAgo: number, overrides: Partial<NonNullable<PolicyInput['last']>> = {}) => ({
      to: '1.2.0',
      status: 'failed' as const,
      finishedAt: hoursAgo(finishedHoursAgo),
      steps: [
        {
          name: 'capability-review' as const,
          status: 'failed' as const,
          ms: 70_000,
          evidence: {
            needsConsent: [{ step: 'finalize', code: 'PLUGIN_CAPABILITY_CONSENT_REQUIRED', plugin: 'probe' }],
          },
        },
      ],
      ...overrides,
    });
    const waiting = decide(input({ last: refused(2) }));
    expect(waiting).toMatchObject({ action: 'none', reason: 'consent_required', candidate: '1.2.0' });
    expect(waiting).toMatchObject({
      eligibleAt: new Date(Date.parse(hoursAgo(2)) + CONSENT_RETRY_HOURS * 3_600_000).toISOString(),
    });
    expect(waiting.detail).toMatch(
      /1\.2\.0 waits for the operator's consent to new capabilities of probe .*release-switcher update 1\.2\.0 --accept-capabilities/,
    );
    // A day later the tick reviews it again.
    expect(decide(input({ last: refused(CONSENT_RETRY_HOURS + 1) }))).toMatchObject({
      action: 'update',
      version: '1.2.0',
    });
    // Not the candidate, not a consent refusal, or a later transaction: no wait.
    expect(decide(input({ last: refused(2, { to: '1.1.0' }) }))).toMatchObject({ action: 'update', version: '1.2.0' });
    const otherFailure = refused(2, { steps: [{ name: 'preflight', status: 'failed', ms: 1 }] });
    expect(decide(input({ last: otherFailure }))).toMatchObject({ action: 'update', version: '1.2.0' });
    expect(decide(input({ last: refused(2, { status: 'verified' }) }))).toMatchObject({ action: 'update' });
  });

  it('no tag on the channel: none', () => {
    expect(decide(input({ packument: packument({}, { '1.0.0': {} }) }))).toMatchObject({
      action: 'none',
      reason: 'no_release_on_channel',
      latest: null,
    });
  });
});

describe('never bad, deprecated or a downgrade', () => {
  it('the running version is the channel version: up_to_date', () => {
    expect(decide(input({ current: '1.2.0' }))).toMatchObject({
      action: 'none',
      reason: 'up_to_date',
      candidate: null,
    });
  });

  it('the channel moved back below what runs: none, never a downgrade', () => {
    const moved = packument({ latest: '1.1.0' }, { '1.1.0': {}, '1.2.0': {} });
    expect(decide(input({ packument: moved, current: '1.2.0' }))).toMatchObject({
      action: 'none',
      reason: 'up_to_date',
    });
  });

  it('a candidate marked bad here is never taken', () => {
    expect(decide(input({ releases: records({ '1.0.0': 'good', '1.2.0': 'bad' }) }))).toMatchObject({
      action: 'none',
      reason: 'candidate_bad',
      candidate: '1.2.0',
    });
  });

  it('a deprecated candidate is never taken (else a rollback from it would be undone by the next tick)', () => {
    const deprecated = packument({ latest: '1.2.0' }, { '1.0.0': {}, '1.2.0': { deprecated: 'broken' } });
    expect(decide(input({ packument: deprecated }))).toMatchObject({ action: 'none', reason: 'candidate_deprecated' });
  });

  it('a tag naming an unpublished version: none', () => {
    const dangling: PackumentView = { 'dist-tags': { latest: '1.3.0' }, versions: { '1.0.0': {} } };
    expect(decide(input({ packument: dangling }))).toMatchObject({ action: 'none', reason: 'candidate_unpublished' });
  });

  it('nothing activated yet: the channel version', () => {
    expect(decide(input({ current: null, releases: {} }))).toMatchObject({ action: 'update', version: '1.2.0' });
  });
});

describe('cooldown', () => {
  it('too fresh: none, with the time it becomes eligible on this host', () => {
    const fresh = packument({ latest: '1.2.0' }, { '1.0.0': {}, '1.2.0': { publishedHoursAgo: 2 } });
    const result = decide(input({ packument: fresh, config: { cooldownHours: 24 } }));
    expect(result).toMatchObject({ action: 'none', reason: 'cooldown', candidate: '1.2.0' });
    const eligible = Date.parse((result as { eligibleAt: string }).eligibleAt);
    const base = NOW.getTime() + 22 * 3_600_000;
    // The cooldown, plus this host's fixed jitter of at most an hour.
    expect(eligible).toBeGreaterThanOrEqual(base);
    expect(eligible).toBeLessThan(base + 3_600_000);
    expect(eligible - base).toBe(result.jitter.seconds * 1000);
    expect(result.jitter).toEqual({ seconds: jitterSeconds('host-a', 3600), windowSeconds: 3600 });
  });

  it('old enough (cooldown plus jitter passed): update', () => {
    const old = packument({ latest: '1.2.0' }, { '1.0.0': {}, '1.2.0': { publishedHoursAgo: 26 } });
    expect(decide(input({ packument: old, config: { cooldownHours: 24 } }))).toMatchObject({
      action: 'update',
      version: '1.2.0',
    });
  });

  it('no cooldown: no waiting at all, and no jitter', () => {
    const fresh = packument({ latest: '1.2.0' }, { '1.0.0': {}, '1.2.0': { publishedHoursAgo: 0 } });
    const result = decide(input({ packument: fresh }));
    expect(result).toMatchObject({ action: 'update', jitter: { seconds: 0, windowSeconds: 0 } });
  });

  it('the jitter window is never longer than the cooldown', () => {
    expect(decide(input({ config: { cooldownHours: 0.25 } })).jitter.windowSeconds).toBe(900);
  });

  it('a cooldown without a publish time in the packument: none, not a guess', () => {
    const timeless: PackumentView = { 'dist-tags': { latest: '1.2.0' }, versions: { '1.0.0': {}, '1.2.0': {} } };
    expect(decide(input({ packument: timeless, config: { cooldownHours: 1 } }))).toMatchObject({
      action: 'none',
      reason: 'no_publish_time',
    });
  });
});

describe('staged rollout and jitter: deterministic per host', () => {
  it('the same host and version always get the same answer', () => {
    expect(rolloutBucket('host-a', '1.2.0')).toBe(rolloutBucket('host-a', '1.2.0'));
    expect(jitterSeconds('host-a', 3600)).toBe(jitterSeconds('host-a', 3600));
    const a = decide(input({ config: { rolloutPercent: 50 } }));
    const b = decide(input({ config: { rolloutPercent: 50 } }));
    expect(b).toEqual(a);
    expect(a.rollout).toEqual({ percent: 50, bucket: rolloutBucket('host-a', '1.2.0') });
  });

  it('outside the rollout: none; 0 % takes nobody, 100 % everybody', () => {
    const bucket = rolloutBucket('host-a', '1.2.0');
    expect(decide(input({ config: { rolloutPercent: bucket } }))).toMatchObject({ action: 'none', reason: 'rollout' });
    expect(decide(input({ config: { rolloutPercent: bucket + 1 } }))).toMatchObject({ action: 'update' });
    expect(decide(input({ config: { rolloutPercent: 0 } }))).toMatchObject({ action: 'none', reason: 'rollout' });
  });

  it('about P % of 1000 hosts take a version, and a different slice for each version', () => {
    const hosts = Array.from({ length: 1000 }, (_, i) => `host-${i}`);
    const taking = (version: string, percent: number) => hosts.filter((h) => rolloutBucket(h, version) < percent);
    for (const percent of [10, 25, 50, 90]) {
      const share = taking('1.2.0', percent).length / 10;
      expect(share).toBeGreaterThan(percent - 5);
      expect(share).toBeLessThan(percent + 5);
    }
    const first = new Set(taking('1.2.0', 10));
    const overlap = taking('1.3.0', 10).filter((h) => first.has(h)).length;
    expect(overlap).toBeLessThan(30); // independent slices overlap by ~1 % of hosts, not 10 %
    // Raising the percentage only adds hosts: whoever took it at 10 % still does at 50 %.
    const half = new Set(taking('1.2.0', 50));
    expect([...first].every((h) => half.has(h))).toBe(true);
  });

  it('jitter spreads 1000 hosts over the whole window', () => {
    const seconds = Array.from({ length: 1000 }, (_, i) => jitterSeconds(`host-${i}`, 3600));
    expect(Math.min(...seconds)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...seconds)).toBeLessThan(3600);
    const quarters = [0, 1, 2, 3].map((q) => seconds.filter((s) => Math.floor(s / 900) === q).length);
    for (const count of quarters) expect(count).toBeGreaterThan(200);
  });
});

describe('a running version the registry deprecated or unpublished', () => {
  const registry = packument(
    { latest: '1.2.0' },
    { '1.0.0': {}, '1.1.0': {}, '1.2.0': { deprecated: 'data loss, use 1.1.0' } },
  );

  it('deprecated: roll back to the newest good release that is neither deprecated nor unpublished', () => {
    const releases = records({ '1.0.0': 'good', '1.1.0': 'good', '1.2.0': 'good' });
    expect(decide(input({ packument: registry, releases, current: '1.2.0' }))).toMatchObject({
      action: 'rollback',
      version: '1.1.0',
      reason: 'current_deprecated',
    });
  });

  it('skips releases that are bad, only installed, deprecated or unpublished', () => {
    const registry2 = packument(
      { latest: '1.4.0' },
      { '1.0.0': {}, '1.1.0': { deprecated: 'also bad' }, '1.3.0': {}, '1.4.0': { deprecated: 'x' } },
    );
    const releases = records({
      '0.9.0': 'good',
      '1.0.0': 'good',
      '1.1.0': 'good',
      '1.2.0': 'good',
      '1.3.0': 'installed',
      '1.3.5': 'bad',
      '1.4.0': 'good',
    });
    // 1.2.0 is unpublished (not in versions), 1.1.0 deprecated, 0.9.0 unpublished.
    expect(decide(input({ packument: registry2, releases, current: '1.4.0' }))).toMatchObject({
      action: 'rollback',
      version: '1.0.0',
      reason: 'current_deprecated',
    });
  });

  it('unpublished: the same', () => {
    const gone = packument({ latest: '1.1.0' }, { '1.0.0': {}, '1.1.0': {} });
    const releases = records({ '1.0.0': 'good', '1.1.0': 'good', '1.2.0': 'good' });
    expect(decide(input({ packument: gone, releases, current: '1.2.0' }))).toMatchObject({
      action: 'rollback',
      version: '1.1.0',
      reason: 'current_unpublished',
    });
  });

  it('an eligible newer version on the channel is taken instead: forward beats back', () => {
    const fixed = packument({ latest: '1.3.0' }, { '1.1.0': {}, '1.2.0': { deprecated: 'x' }, '1.3.0': {} });
    const releases = records({ '1.1.0': 'good', '1.2.0': 'good' });
    expect(decide(input({ packument: fixed, releases, current: '1.2.0' }))).toMatchObject({
      action: 'update',
      version: '1.3.0',
    });
    // …but not one still in its cooldown: then back.
    expect(
      decide(
        input({
          packument: { ...fixed, time: { '1.3.0': hoursAgo(1) } },
          releases,
          current: '1.2.0',
          config: { cooldownHours: 48 },
        }),
      ),
    ).toMatchObject({ action: 'rollback', version: '1.1.0' });
  });

  it('no good release to go back to: none, with the reason', () => {
    expect(
      decide(
        input({ packument: registry, releases: records({ '1.2.0': 'good', '1.1.0': 'installed' }), current: '1.2.0' }),
      ),
    ).toMatchObject({ action: 'none', reason: 'no_good_release' });
  });
});

describe('releases that did not come from the registry', () => {
  it('a hotfix installed from a .tgz (or another URL) is never judged unpublished or deprecated', () => {
    const releases = records({ '1.0.0': 'good', '1.1.0': 'good', '1.1.1-hotfix.1': 'good' });
    for (const source of [
      '/srv/hotfix/openclaw-1.1.1-hotfix.1.tgz',
      'file:/srv/openclaw.tgz',
      'https://builds.example/openclaw-1.1.1-hotfix.1.tgz',
      'https://registry.example/other/openclaw.tgz',
      'adopted:/usr/lib/node_modules/openclaw',
    ]) {
      releases['1.1.1-hotfix.1']!.source = source;
      const decision = decide(
        input({
          packument: packument({ latest: '1.1.0' }, { '1.0.0': {}, '1.1.0': {} }),
          releases,
          current: '1.1.1-hotfix.1',
        }),
      );
      expect(decision, source).toMatchObject({ action: 'none', reason: 'up_to_date' });
    }
  });

  it('the same version from the registry is judged: unpublished, rolled back', () => {
    const releases = records({ '1.1.0': 'good', '1.1.1-hotfix.1': 'good' });
    expect(
      decide(
        input({ packument: packument({ latest: '1.1.0' }, { '1.1.0': {} }), releases, current: '1.1.1-hotfix.1' }),
      ),
    ).toMatchObject({ action: 'rollback', version: '1.1.0', reason: 'current_unpublished' });
  });

  it('a good hotfix from a tarball may be the target of a rollback', () => {
    const releases = records({ '1.0.0': 'good', '1.0.1-hotfix.1': 'good', '1.2.0': 'good' });
    releases['1.0.1-hotfix.1']!.source = '/srv/hotfix.tgz';
    const deprecated = packument({ latest: '1.2.0' }, { '1.0.0': {}, '1.2.0': { deprecated: 'x' } });
    expect(decide(input({ packument: deprecated, releases, current: '1.2.0' }))).toMatchObject({
      action: 'rollback',
      version: '1.0.1-hotfix.1',
    });
  });
});

describe('host id', () => {
  it('config.hostId, else /etc/machine-id, else the hostname', async () => {
    const dir = tempDir();
    const file = join(dir, 'machine-id');
    writeFileSync(file, 'abc123\n');
    expect(await hostIdOf({ hostId: 'configured' }, file)).toBe('configured');
    expect(await hostIdOf({ hostId: null }, file)).toBe('abc123');
    writeFileSync(file, '\n'); // an image's empty placeholder is shared by every host: not an id
    expect(await hostIdOf({ hostId: null }, file)).toBe(hostname());
    expect(await hostIdOf({ hostId: null }, join(dir, 'missing'))).toBe(hostname());
  });
});
