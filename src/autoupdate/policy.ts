/**
 * The auto-updater's decision, as a pure function of what the registry says (the packument), what
 * the root knows (release records, the running version), the settings and the clock. Everything
 * that reads disk or network lives in ./index.ts, so every rule here is unit-tested on plain data.
 */
import { createHash } from 'node:crypto';
import semver from 'semver';
import type { Channel, Config } from '../store/config.js';
import { channelTags, channelVersion } from '../registry/dist-tags.js';
import type { ReleaseRecord, Transaction } from '../model/state.js';
import type { PackumentView } from '../registry/fetch.js';

// The parts of a registry packument (`pacote.packument(name, {fullMetadata: true})`) the policy reads.
export type { PackumentView };

export interface PolicyInput {
  packument: PackumentView;
  /** The root's release records (state.json `releases`). */
  releases: Record<string, ReleaseRecord | undefined>;
  /** The version `current` names; null before the first activation. */
  current: string | null;
  /** The root's last transaction (in flight, else the newest of state.json `history`): a candidate refused for want of consent waits. */
  last?: Pick<Transaction, 'to' | 'status' | 'finishedAt' | 'steps'> | null | undefined;
  /** The channel as chosen for this root (transaction/channel.ts: never unset here). */
  config: Pick<Config, 'cooldownHours' | 'rolloutPercent'> & { channel: Channel };
  /** This host's id (see `hostIdOf` in ./index.ts); only ever hashed. */
  hostId: string;
  /** The registry's base URL: only releases whose source is a tarball of it are judged by what it publishes. */
  registry: string;
  now: Date;
}

/** Why nothing is done. */
export type NoneReason =
  | 'no_release_on_channel'
  | 'up_to_date'
  | 'candidate_unpublished'
  | 'candidate_deprecated'
  | 'candidate_bad'
  | 'no_publish_time'
  | 'cooldown'
  | 'rollout'
  | 'no_good_release'
  | 'manual_channel'
  | 'consent_required';

export type RollbackReason = 'current_deprecated' | 'current_unpublished';

export type Decision =
  | { action: 'update'; version: string; reason: 'newer_version' }
  | { action: 'none'; reason: NoneReason /** When a cooldown ends for this host (ISO-8601). */; eligibleAt?: string }
  | { action: 'rollback'; version: string; reason: RollbackReason };

/** What the decision was based on, for `check` to report. */
export interface PolicyEvidence {
  /** The channel's version: `latest`, or for beta the newer of `beta` and `latest`. */
  latest: string | null;
  /** The channel's version when it is newer than `current`, whether or not it may be taken yet. */
  candidate: string | null;
  /** `bucket` is hash(hostId:candidate) mod 100; the host takes the candidate when bucket < percent. */
  rollout: { percent: number; bucket: number | null };
  /** This host's fixed delay after a cooldown (seconds), and the window it is drawn from. */
  jitter: { seconds: number; windowSeconds: number };
  /** Words for people. */
  detail: string;
}

export type PolicyResult = Decision & PolicyEvidence;

/**
 * How long a candidate whose update was refused for want of the operator's consent to new plugin capabilities
 * (CAPABILITY_CONSENT_REQUIRED) waits before a tick reviews it again: the review is a finalize on a copy of the state
 * (40-90 s of CPU for openclaw), and it would refuse every tick until the operator acts; a day lets a plugin's
 * publisher (or the operator's plugin set) change the answer without repeating it hourly.
 */
export const CONSENT_RETRY_HOURS = 24;

/** Jitter spreads a fleet over at most this long after a cooldown ends (and never longer than the cooldown). */
export const JITTER_MAX_SECONDS = 3600;

/** A stable number in [0, 1) from `text`: the first 48 bits of its sha256. */
function unitHash(text: string): number {
  return createHash('sha256').update(text).digest().readUIntBE(0, 6) / 2 ** 48;
}

/** Per version, so a different slice of the fleet goes first each time. */
export function rolloutBucket(hostId: string, version: string): number {
  return Math.floor(unitHash(`${hostId}:${version}`) * 100);
}

/** Per host: the same host always waits the same share of the window. */
export function jitterSeconds(hostId: string, windowSeconds: number): number {
  return Math.floor(unitHash(`${hostId}:jitter`) * windowSeconds);
}

/** Without a cooldown there is no waiting at all (the timer's RandomizedDelaySec spreads the ticks). */
export function jitterWindow(cooldownHours: number): number {
  return Math.min(JITTER_MAX_SECONDS, Math.floor(cooldownHours * 3600));
}

function isDeprecated(packument: PackumentView, version: string): boolean {
  const deprecated = packument.versions[version]?.deprecated;
  // npm un-deprecates by writing an empty message.
  return deprecated === true || (typeof deprecated === 'string' && deprecated !== '');
}

/**
 * Whether a release was installed from the registry (its tarball URL lies under the registry's). A
 * hotfix installed from a .tgz file or another URL is not the registry's to unpublish or deprecate:
 * rolling it back because the registry does not list its version would undo the hotfix.
 */
export function fromRegistry(record: Pick<ReleaseRecord, 'source'> | undefined, registry: string): boolean {
  if (!record || !URL.canParse(record.source) || !URL.canParse(registry)) return false;
  const source = new URL(record.source);
  const base = new URL(registry.endsWith('/') ? registry : `${registry}/`);
  return (
    /^https?:$/.test(source.protocol) && source.origin === base.origin && source.pathname.startsWith(base.pathname)
  );
}

function isPublished(packument: PackumentView, version: string): boolean {
  return Object.hasOwn(packument.versions, version);
}

type Forward = { decision: Decision; detail: string; candidate: string | null; bucket: number | null };

/** The forward rules: channel → candidate → never bad, deprecated or a downgrade → cooldown (+ jitter) → rollout. */
function forward(input: PolicyInput, latest: string | null, jitter: number): Forward {
  const { packument, current, config, hostId } = input;
  const none = (
    reason: NoneReason,
    detail: string,
    extra: { candidate?: string; bucket?: number; eligibleAt?: string } = {},
  ): Forward => ({
    decision: { action: 'none', reason, ...(extra.eligibleAt ? { eligibleAt: extra.eligibleAt } : {}) },
    detail,
    candidate: extra.candidate ?? null,
    bucket: extra.bucket ?? null,
  });
  if (latest === null)
    return none('no_release_on_channel', `the registry has no ${channelTags(config.channel)} dist-tag`);
  if (current !== null && !(semver.valid(current) && semver.gt(latest, current)))
    return none('up_to_date', `${current} runs; the channel is at ${latest}`);
  const candidate = latest;
  const bucket = rolloutBucket(hostId, candidate);
  const seen = { candidate, bucket };
  if (!isPublished(packument, candidate))
    return none('candidate_unpublished', `${candidate} is tagged but no longer published`, seen);
  if (isDeprecated(packument, candidate))
    return none('candidate_deprecated', `${candidate} is deprecated on the registry`, seen);
  if (input.releases[candidate]?.state === 'bad')
    return none(
      'candidate_bad',
      `${candidate} is marked bad here (${input.releases[candidate]?.reason ?? 'failed verification'})`,
      seen,
    );
  const consent = awaitingConsent(input, candidate);
  if (consent)
    return none(
      'consent_required',
      `${candidate} waits for the operator's consent to new capabilities of ${consent.plugins.join(', ')} (refused ${consent.refusedAt}): release-switcher update ${candidate} --accept-capabilities after a review; the timer reviews it again at ${consent.retryAt}`,
      { ...seen, eligibleAt: consent.retryAt },
    );
  if (config.cooldownHours > 0) {
    const published = Date.parse(packument.time?.[candidate] ?? '');
    if (Number.isNaN(published))
      return none(
        'no_publish_time',
        `the registry does not say when ${candidate} was published, so its ${config.cooldownHours} h cooldown cannot be checked`,
        seen,
      );
    const eligible = published + config.cooldownHours * 3_600_000 + jitter * 1000;
    if (input.now.getTime() < eligible) {
      const eligibleAt = new Date(eligible).toISOString();
      return none(
        'cooldown',
        `${candidate} is eligible here at ${eligibleAt} (${config.cooldownHours} h cooldown + ${jitter} s jitter)`,
        { ...seen, eligibleAt },
      );
    }
  }
  if (bucket >= config.rolloutPercent)
    return none(
      'rollout',
      `${candidate} is rolled out to ${config.rolloutPercent} % of hosts; this host's bucket is ${bucket}`,
      seen,
    );
  return {
    decision: { action: 'update', version: candidate, reason: 'newer_version' },
    detail: `update ${current ?? '(none)'} -> ${candidate}`,
    candidate,
    bucket,
  };
}

/**
 * The candidate's last update, refused by its capability review less than CONSENT_RETRY_HOURS ago: the plugins it
 * named and when the timer may review it again. Any transaction since (the operator's, to anything) ends the wait.
 */
function awaitingConsent(
  input: PolicyInput,
  candidate: string,
): { plugins: string[]; refusedAt: string; retryAt: string } | undefined {
  const last = input.last;
  if (!last || last.to !== candidate || last.status !== 'failed' || !last.finishedAt) return undefined;
  const review = last.steps.find((s) => s.name === 'capability-review' && s.status === 'failed');
  if (!review) return undefined;
  const retry = Date.parse(last.finishedAt) + CONSENT_RETRY_HOURS * 3_600_000;
  if (Number.isNaN(retry) || input.now.getTime() >= retry) return undefined;
  const needs = (review.evidence as { needsConsent?: Array<{ plugin?: string }> } | undefined)?.needsConsent ?? [];
  const plugins = [...new Set(needs.map((w) => w.plugin ?? '?'))];
  return {
    plugins: plugins.length > 0 ? plugins : ['a plugin'],
    refusedAt: last.finishedAt,
    retryAt: new Date(retry).toISOString(),
  };
}

/** The newest release verified here that the registry still publishes and does not deprecate. */
function rollbackTarget(input: PolicyInput): string | null {
  const good = Object.values(input.releases)
    .filter(
      (r): r is ReleaseRecord => r?.state === 'good' && r.version !== input.current && semver.valid(r.version) !== null,
    )
    .filter(
      (r) =>
        !fromRegistry(r, input.registry) ||
        (isPublished(input.packument, r.version) && !isDeprecated(input.packument, r.version)),
    )
    .map((r) => r.version);
  return good.sort(semver.rcompare)[0] ?? null;
}

/**
 * Decide one tick. A running version the registry has deprecated or unpublished is left: forward
 * when the channel offers an eligible newer version, else back to the newest good release.
 */
export function decide(input: PolicyInput): PolicyResult {
  const decided = decideAny(input);
  // OpenClaw: an extended-stable pin "never invokes automatic installation, handoff, restart" (automatic-updates.md):
  // what a tick would have done is reported, and left to the operator.
  if (input.config.channel !== 'extended-stable' || decided.action === 'none') return decided;
  const { latest, candidate, rollout, jitter } = decided;
  const verb = decided.action === 'update' ? 'update' : 'rollback';
  return {
    action: 'none',
    reason: 'manual_channel',
    latest,
    candidate,
    rollout,
    jitter,
    detail: `extended-stable is never applied automatically; by hand: release-switcher ${verb} ${decided.version} (${decided.detail})`,
  };
}

function decideAny(input: PolicyInput): PolicyResult {
  const latest = channelVersion(input.packument['dist-tags'], input.config.channel);
  const window = jitterWindow(input.config.cooldownHours);
  const jitter = jitterSeconds(input.hostId, window);
  const ahead = forward(input, latest, jitter);
  const evidence = (detail: string): PolicyEvidence => ({
    latest,
    candidate: ahead.candidate,
    rollout: { percent: input.config.rolloutPercent, bucket: ahead.bucket },
    jitter: { seconds: jitter, windowSeconds: window },
    detail,
  });
  const { current, packument } = input;
  const judged = current !== null && fromRegistry(input.releases[current], input.registry);
  const why: RollbackReason | null =
    current === null || !judged
      ? null
      : !isPublished(packument, current)
        ? 'current_unpublished'
        : isDeprecated(packument, current)
          ? 'current_deprecated'
          : null;
  if (why === null || ahead.decision.action === 'update') return { ...ahead.decision, ...evidence(ahead.detail) };
  const gone = why === 'current_unpublished' ? 'unpublished' : 'deprecated';
  const target = rollbackTarget(input);
  if (target === null)
    return {
      action: 'none',
      reason: 'no_good_release',
      ...evidence(`${current} is ${gone}, and no other good release here is neither deprecated nor unpublished`),
    };
  return {
    action: 'rollback',
    version: target,
    reason: why,
    ...evidence(`${current} is ${gone} on the registry: roll back to ${target}, the newest good release`),
  };
}
