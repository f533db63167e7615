// The package root is pinned: it exports the verbs, the one error and the types they take and return, nothing more.
// A change to this list is a change of the public API (docs/library-api.md lists it). Internals that tests,
// benchmarks and integrations use are under `release-switcher/internals`. Every exported function is documented
// and every optional option says its `@default` (read from the source by the TypeScript compiler).
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiDocGaps, apiProgram } from './api-doc.ts';

const SRC = path.resolve(import.meta.dirname, '../../src');

const VALUES = [
  ...['init', 'install', 'planInstall', 'list', 'status', 'switchTo', 'rollback', 'planSwitchTo', 'planRollback'],
  ...['update', 'planUpdate', 'bootCheck', 'prune', 'planPrune', 'pin', 'adopt', 'doctor'],
  ...['recover', 'readConfig', 'unit', 'timer', 'check', 'autoUpdate', 'runCli', 'requestUpdate', 'updateStatus'],
  ...['pauseAutoUpdate', 'resumeAutoUpdate'],
  ...['followTransaction', 'openclawPlugin', 'checkpoints', 'forget'],
  ...['ReleaseSwitcherError', 'ErrorCodes', 'ExitCode', 'isReleaseSwitcherError'],
].sort();

const TYPES = [
  ...['InitOptions', 'InitResult', 'InstallOptions', 'InstallResult', 'InstallPlan', 'ListResult', 'ReleaseInfo'],
  ...['Running', 'StatusResult', 'SwitchOptions', 'RollbackOptions', 'UpdateOptions', 'UpdatePlanOptions'],
  ...['SwitchPlan', 'BootCheckOptions', 'BootCheckResult', 'HandoffOptions', 'PruneOptions', 'PruneResult'],
  ...['PinOptions', 'PinResult', 'AdoptOptions', 'AdoptResult', 'DoctorOptions', 'DoctorResult', 'DoctorCheck'],
  ...['RecoverResult', 'Config', 'Settings', 'SupervisorName', 'Channel', 'SignaturePolicy', 'UnitOptions'],
  ...['UnitResult', 'ServiceOptions', 'UnitKind', 'UnitScope', 'TimerOptions', 'TimerResult', 'TimerFile'],
  ...['CheckOptions', 'CheckResult', 'AutoUpdateOptions', 'AutoUpdateResult', 'AutoUpdateSkipped', 'Decision'],
  ...['NoneReason', 'RollbackReason', 'PolicyEvidence', 'PolicyResult', 'CliIo', 'RequestUpdateOptions'],
  ...[
    'UpdateStatus',
    'ErrorCode',
    'Transaction',
    'TransactionStatus',
    'TransactionKind',
    'TransactionWarning',
    'NodeRef',
    'Step',
    'ReleaseState',
  ],
  ...['Runtime', 'ProgressEvent', 'Phase', 'RootOptions', 'FollowOptions'],
  ...['OpenclawPluginOptions', 'OpenclawPluginResult', 'CheckpointsResult', 'CheckpointInfo'],
  ...['RootsOptions', 'RegisteredRoot', 'RegisteredRoots', 'ForgetOptions', 'ForgetResult', 'RootsFiles'],
  ...['AcrossRootsOptions', 'AcrossRootsResult', 'RootOutcome'],
  ...['AutoUpdatePause', 'PauseOptions', 'TransactionOrigin', 'OriginBy', 'OriginWhy'],
].sort();

/** Exported from the root until the API was pinned; internals, now under release-switcher/internals. */
const MOVED = [
  ...['LAYOUT_VERSION', 'RELEASE_MARKER', 'layoutOf', 'flipSymlink', 'LOCK_STALE_MS', 'systemdDropIn'],
  ...['systemdUnit', 'dropInPath', 'unitPath', 'installDropIn', 'parseSchedule', 'timespanSeconds', 'timerStem'],
  ...['hostIdOf', 'decide', 'rolloutBucket', 'jitterSeconds', 'channelVersion', 'OPT_OUT_VARIABLES'],
  ...['JITTER_MAX_SECONDS', 'takeSnapshot', 'restoreSnapshot', 'PRESETS'],
  // Moved when the root came back to at most 36 values (their types stay on the root).
  ...['SUPERVISORS', 'CHANNELS', 'SIGNATURE_POLICIES', 'EXIT_SEVERITY', 'worstExitCode', 'runScheduled'],
  ...['acrossRoots', 'registeredRoots'],
].sort();

describe('the public API', () => {
  const program = apiProgram([path.join(SRC, 'index.ts'), path.join(SRC, 'internals.ts')]);
  const root = apiDocGaps(path.join(SRC, 'index.ts'), program);

  it('the root exports exactly the verbs, the error and their types', async () => {
    expect(Object.keys(await import('../../src/index.ts')).sort()).toEqual(VALUES);
    expect(VALUES.length).toBeLessThanOrEqual(36);
    expect(root.values).toEqual(VALUES);
    expect(root.types).toEqual(TYPES);
  });

  it('internals are under release-switcher/internals (package.json exports), none on the root', async () => {
    const internals = Object.keys(await import('../../src/internals.ts')).sort();
    expect(internals).toEqual(MOVED);
    expect(VALUES.filter((name) => internals.includes(name))).toEqual([]);
    const pkg = JSON.parse(readFileSync(path.join(SRC, '../package.json'), 'utf8'));
    expect(pkg.exports['./internals']).toEqual({ types: './dist/internals.d.ts', default: './dist/internals.js' });
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
  });

  it('docs/library-api.md lists the root and the internals, whole, and names nothing else as theirs', () => {
    const doc = readFileSync(path.join(SRC, '../docs/library-api.md'), 'utf8');
    const section = (from: string, to: string) => {
      const start = doc.indexOf(from);
      expect(start, `docs/library-api.md has ${from}`).toBeGreaterThan(-1);
      const text = doc.slice(start, doc.indexOf(to, start + from.length));
      return new Set([...text.matchAll(/`([A-Za-z_]\w*)`/g)].map((m) => m[1]!));
    };
    const rootNamed = section('## What the package root exports', '### `release-switcher/internals`');
    const internalsNamed = section('### `release-switcher/internals`', '\n## ');
    const internals = apiDocGaps(path.join(SRC, 'internals.ts'), program);
    const onRoot = [...root.values, ...root.types];
    const inInternals = [...internals.values, ...internals.types];
    expect(onRoot.filter((name) => !rootNamed.has(name))).toEqual([]);
    expect([...rootNamed].filter((name) => !onRoot.includes(name))).toEqual([]);
    expect(inInternals.filter((name) => !internalsNamed.has(name))).toEqual([]);
    expect([...internalsNamed].filter((name) => !inInternals.includes(name) && !root.types.includes(name))).toEqual([]);
  });

  it('every exported function is documented, every optional option says its @default', () => {
    expect(root.undocumented).toEqual([]);
    expect(root.noDefault).toEqual([]);
  });

  it('errors are recognised by their brand (isReleaseSwitcherError), never by instanceof (a second copy of the library)', () => {
    const REPO = path.join(SRC, '..');
    const files = ['src', 'examples', 'integrations/openclaw/src'].flatMap((dir) =>
      readdirSync(path.join(REPO, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts'))
        .map((file) => path.join(dir, file)),
    );
    const offenders = files.filter((file) =>
      /instanceof\s+(\w+\.)?ReleaseSwitcherError\b/.test(readFileSync(path.join(REPO, file), 'utf8')),
    );
    expect(files.length).toBeGreaterThan(100);
    expect(offenders).toEqual([]);
  });
});
