/**
 * The `capability-review` step (after the rehearsal, before the flip): a plugin whose update needs the operator's
 * consent is found while the old release still serves, not by finalize with the gateway stopped. OpenClaw's
 * finalize converges plugins to the target's versions; one that declares more capabilities than the operator
 * accepted is not installed without `--accept-capabilities` (docs/plugins/manage-plugins.md "Capability consent"):
 * it stays on its old version and the update ends with a warning the operator may never read. So, when the running
 * release lists a plugin that is not exempt from the review (OpenClaw exempts its verified official packages), the
 * target's own finalize runs on a private copy of the state, with the user's config and the service's npm setup, and
 * a plugin outcome that waits for consent refuses the transaction before anything changes (CAPABILITY_CONSENT_REQUIRED)
 * unless the operator gave the consent. `plugins update --dry-run` cannot say it: it stops before the consent check.
 * A review that cannot run (no list, a copy refused, finalize failing on the copy) does not refuse: it is recorded,
 * and the finalize in the window still reports any consent it needed as a warning.
 * Root acting for the service's account reviews in its folder `<root>/preflight/review-<tx>` (not under its 0700
 * `staging/`, which the account cannot reach): the copy and the config are the account's, made and read by the account
 * (root never reads the account's config; it only asks where OpenClaw would look, as unit-files/service-port.ts does), and emptied by the account before root removes the folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import type { TransactionWarning } from '../model/state.js';
import { letAccountPass, removeHandedDir } from '../platform/handed-dir.js';
import { type RunAs, makeDirFor } from '../platform/run-as.js';
import { runCaptured, tail } from '../platform/subprocess.js';
import { freeLoopbackPort } from '../rehearsal/preflight.js';
import { finalizeWarnings, startFinalize, type FinalizeVerdict } from '../service/finalize.js';
import { listExtensions } from '../service/package-prefetch.js';
import { copyStatePrivately } from '../snapshot/private-copy.js';
import { statePathsBase } from '../snapshot/state-paths.js';
import { resolveStateAs } from '../snapshot/state-side.js';
import type { Preset } from '../presets/index.js';
import { readAheadRecord } from './finalize-ahead-record.js';
import { consentReviewOf, finalizeArgs, finalizeOf, liveConfigAs, serviceNpmSetup } from './finalize-choice.js';
import { noteStep, runStep } from './record.js';
import { serviceIdentity } from './service-identity.js';
import type { Run } from './steps.js';

const NAME = 'capability-review';
const LIST_TIMEOUT_MS = 120_000;

type Review = NonNullable<NonNullable<Preset['finalize']>['consentReview']>;

export async function capabilityReviewStep(run: Run): Promise<void> {
  const { session, tx } = run;
  const { config, journal, layout, runtime } = session;
  // Where finalize runs (finalize-step.ts finalizeOf: its preset, a configured Node, a supervisor that stops).
  const finalize = finalizeOf(config, run.supervisor);
  const review = consentReviewOf(finalize);
  // Not for a snapshot put back (it brings the target's own plugins: the plan leaves the step out then).
  if (!finalize || !review || tx.restore || tx.to === null) return;
  if (tx.from === null || tx.from === tx.to) {
    noteStep(
      tx,
      NAME,
      'skipped',
      tx.from === null ? 'no running release lists plugins' : 'a move of the service alone converges no plugin',
    );
    return;
  }
  if (tx.acceptCapabilities) {
    noteStep(tx, NAME, 'skipped', "the operator accepted plugins' capability changes (--accept-capabilities)");
    return;
  }
  const needs = await runStep({ journal, tx }, NAME, async (step) => {
    const service = await serviceIdentity(session);
    const env = service.env;
    const extensions = finalize.extensions!;
    const listed = await listExtensions({
      node: config.node!,
      runningDir: layout.release(tx.from!),
      listArgs: extensions.list,
      env,
      timeoutMs: LIST_TIMEOUT_MS,
      as: service.runAs,
      signal: runtime.signal,
    });
    if (!listed.list) return void step.end('skipped', `no review: ${listed.detail}`);
    run.extensionList = listed.list; // the prefetch before the stop reads it from here, not again
    const plugins = extensions.reviewable(listed.list);
    if (plugins.length === 0) return void step.end('skipped', 'no installed plugin can need capability consent');
    runtime.onProgress({ phase: 'preflight', message: `reviewing ${plugins.join(', ')} against ${tx.to}` });
    // Root's folder (0700, then passable to the account's group), in the one root hands to the account (never root's
    // 0700 staging/, which the account cannot reach): the copy and the config inside are the account's.
    const work = path.join(layout.preflight, `review-${tx.id}`);
    try {
      // A review that cannot run (a copy refused, its prepare step failing) refuses nothing; a cancel still cancels.
      let unable: string | undefined;
      // The finalize run ahead on a copy (finalize-ahead-step.ts) answers it when it ran: one run, not two.
      const ahead = (await readAheadRecord(layout, tx.id))?.verdict;
      const verdict =
        ahead ??
        (await finalizeOnCopy(run, { review, finalize, work, env, service }).catch((error: unknown) => {
          if (runtime.signal?.aborted) throw error;
          unable = error instanceof Error ? error.message : String(error);
          return undefined;
        }));
      const consent = verdict ? finalizeWarnings(verdict).filter((w) => w.code === review.code) : [];
      step.note({
        evidence: { plugins, ...(verdict && { verdict: brief(verdict) }), needsConsent: consent },
        detail: !verdict
          ? `the review could not run${unable ? ` (${unable})` : ''}; finalize reports any consent it needs`
          : consent.length > 0
            ? `the operator's consent to new capabilities is needed by ${consent.map((w) => w.plugin ?? '?').join(', ')}`
            : `finalize on a copy: ${verdict.status}; no plugin needs consent (${plugins.join(', ')})`,
      });
      if (!verdict) step.end('skipped');
      if (consent.length > 0) step.fail();
      return consent;
    } finally {
      await removeReviewPlace(work);
    }
  });
  if (needs && needs.length > 0) throw consentRequired(tx.to, needs, review);
}

/** The target's finalize on a private copy of the live state; undefined when the copy could not be made. */
async function finalizeOnCopy(
  run: Run,
  at: {
    review: Review;
    finalize: NonNullable<Preset['finalize']>;
    work: string;
    env: NodeJS.ProcessEnv;
    service: Awaited<ReturnType<typeof serviceIdentity>>;
  },
): Promise<FinalizeVerdict | undefined> {
  const { session, tx } = run;
  const { config, layout, runtime } = session;
  const { review, finalize, work, env, service } = at;
  await fs.mkdir(work, { recursive: true, mode: 0o700 });
  // Root's <root>/preflight and this folder: the account's group passes to the names it knows (its copy, its config,
  // and to empty them at the end), lists and creates nothing; finalize's output in finalize/ stays root's (0700).
  for (const folder of [path.dirname(work), work]) await letAccountPass(folder, service.runAs);
  const { paths, skip } = await resolveStateAs(service.runAs, { ...config, env });
  const base = statePathsBase(config.statePaths, env);
  const state = path.join(work, 'state');
  const copied = await copyStatePrivately(paths, state, {
    base,
    residue: config.residue,
    sqliteNodes: [config.node, process.execPath],
    skip,
    as: service.runAs, // the account's state read, and its copy made, with the account's rights only
  }).catch(() => undefined);
  if (!copied) return undefined;
  // The user's config where the copy has it (the gateway's own, with its plugin entries), else a copy beside.
  const live = await liveConfigAs(review.config.file, env, service.runAs);
  const configInCopy = live
    ? await placeInCopy(live, { paths, base, copied, work, as: service.runAs })
    : path.join(copied, review.config.inCopy);
  const vars: Record<string, string> = {
    state: copied,
    config: configInCopy,
    port: String(await freeLoopbackPort()),
  };
  const fill = (value: string) => value.replace(/\{(state|config|port)\}/g, (_, name: string) => vars[name]!);
  // The service's npm setup, which HOME moved to the copy would otherwise hide: its cache, its user config.
  const npm = await serviceNpmSetup(env, service.runAs);
  const reviewEnv = {
    ...env,
    ...finalize.env,
    ...Object.fromEntries(Object.entries(review.env).map(([k, v]) => [k, fill(v)])),
    ...npm,
  };
  const releaseDir = layout.release(tx.to!);
  if (review.prepare) {
    const prepared = await runCaptured(config.node!, review.prepare.map(fill), {
      cwd: releaseDir,
      env: reviewEnv,
      timeoutMs: LIST_TIMEOUT_MS,
      signal: runtime.signal,
      as: service.runAs,
    });
    if (prepared.failed) throw new Error(`the review's prepare step failed: ${tail(prepared.output, 5)}`);
  }
  const started = await startFinalize({
    node: config.node!,
    releaseDir,
    args: finalizeArgs(finalize, {}),
    env: reviewEnv,
    outputDir: path.join(work, 'finalize'),
    tx: tx.id, // its marker: recovery ends it with the transaction's finalize processes
    timeoutMs: finalize.timeoutSeconds * 1000,
    phaseTimeoutFlag: finalize.phaseTimeoutFlag,
    signal: runtime.signal,
    as: service.runAs,
  });
  return started.verdict;
}

/**
 * Where `live` (a file of the state) is in the private copy, or a copy of it in `work/config` when it lies outside.
 * Both read with the account's rights (the copy is its; `live` is its file, which may be a link it planted): root
 * neither stats nor copies it.
 */
export async function placeInCopy(
  live: string,
  at: { paths: readonly string[]; base: string | null; copied: string; work: string; as: RunAs | undefined },
): Promise<string> {
  const { paths, base, copied, work, as } = at;
  const inside = (dir: string) => live.startsWith(dir + path.sep);
  const only = paths.length === 1 ? paths[0]! : undefined;
  const candidates = [
    ...(only && inside(only) ? [path.join(copied, path.relative(only, live))] : []),
    ...(base !== null && inside(base) ? [path.join(copied, path.relative(base, live))] : []),
  ];
  const asAccount = (file: string, args: string[]) =>
    runCaptured(file, args, { env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' }, timeoutMs: LIST_TIMEOUT_MS, as, cwd: '/' });
  for (const candidate of candidates)
    if (!(await asAccount('/usr/bin/test', ['-f', candidate])).failed) return candidate;
  const beside = path.join(work, 'config', path.basename(live));
  await makeDirFor(path.dirname(beside), as); // in root's own work folder, then the account's
  const copiedConfig = await asAccount('/bin/cp', ['--', live, beside]);
  if (copiedConfig.failed) throw new Error(`the config ${live} could not be copied: ${tail(copiedConfig.output, 3)}`);
  return beside;
}

/**
 * The review's folder removed: what it handed the account (the copy, the config) emptied by the account and removed
 * empty (platform/handed-dir.ts), root's own (finalize's output) removed by root; root walks nothing of the account's.
 */
export async function removeReviewPlace(work: string): Promise<void> {
  for (const name of await fs.readdir(work).catch(() => [] as string[])) await removeHandedDir(path.join(work, name));
  await fs.rmdir(work).catch(() => undefined);
}

/** What the journal keeps of the review's finalize. */
function brief(verdict: FinalizeVerdict): Pick<FinalizeVerdict, 'ok' | 'status' | 'exitCode' | 'ms'> {
  return { ok: verdict.ok, status: verdict.status, exitCode: verdict.exitCode, ms: verdict.ms };
}

function consentRequired(target: string, needs: readonly TransactionWarning[], review: Review): ReleaseSwitcherError {
  const plugins = [...new Set(needs.map((w) => w.plugin ?? '?'))];
  return new ReleaseSwitcherError(
    'CAPABILITY_CONSENT_REQUIRED',
    `${target}'s plugin update needs the operator's consent: ${plugins.join(', ')} declare${plugins.length === 1 ? 's' : ''} new capabilities. Nothing was flipped or stopped.`,
    {
      hint: `Review what the new version of ${plugins.join(', ')} declares (${review.howToReview(plugins[0]!)}), then run the update again with --accept-capabilities.`,
      details: { plugins, outcomes: needs },
    },
  );
}
