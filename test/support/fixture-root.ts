// A root written straight to disk through the library (src/, not dist/): no registry, no npm, no built CLI. For the
// tests whose subject is the state machine (the transaction, recovery, the stop window, the state return, the
// rehearsal's decisions, the verbs' planning); the tests whose subject is the CLI or the registry install from
// Verdaccio (`templateRoot`, cli.ts).
//
// Every on-disk format is the library's own: config.json by `init`, each release sealed by staging's last steps
// (sealStaged: manifest, dedupe, marker, seal; commitRelease: the rename, the top's seal, +i where it can, the
// fingerprints, the journal record) and `current` by a real switch. Only the package's files are the test's: the
// fixture gateway's tree as npm leaves it installed (its postinstall run, its dependency placed).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll } from 'vitest';
import { type CrashPointName, armCrashPoint } from '../../src/platform/crashpoint.ts';
import type { Settings } from '../../src/store/config.ts';
import { newId } from '../../src/store/journal.ts';
import { type StagingSession, commitRelease, reuseCandidates } from '../../src/stage/install.ts';
import { sealStaged } from '../../src/stage/seal-staged.ts';
import { mutate } from '../../src/transaction/mutate.ts';
import { init } from '../../src/verbs/init.ts';
import { switchTo } from '../../src/verbs/switch.ts';
import { writeDep, writeGateway } from './fixture-sources.ts';
import { tempDir } from './cli.ts';
import { copyRoot } from './root.ts';

export const FIXTURE_PACKAGE = 'rs-fixture-gateway';

export interface FixtureRootOptions {
  /** Installed in this order. */
  versions: string[];
  /** Where `current` points (a real switch, supervisor `none`: it ends `switched`); null: never activated. @default versions[0] */
  current?: string | null;
  /** Settings for `init` beyond the package (a registry is never asked). */
  settings?: Settings;
}

/**
 * Write a root at `root` (made; its parent must exist): `init`, then each version installed from files on disk as
 * staging ends an install, then `current` switched to. Returns `root`.
 */
export async function writeFixtureRoot(root: string, options: FixtureRootOptions): Promise<string> {
  // rootsFile null: a fixture is not recorded in the host's list of roots.
  await init({ root, settings: { package: FIXTURE_PACKAGE, ...options.settings }, rootsFile: null });
  for (const version of options.versions) await installFromDisk(root, version);
  const current = options.current === undefined ? options.versions[0] : options.current;
  if (current) {
    const tx = await switchTo({ root, version: current });
    if (tx.status !== 'switched') throw new Error(`fixture root: switch to ${current} ended ${tx.status}`);
  }
  return root;
}

/** One release as `install` commits it (stage/install.ts), its tree written here instead of resolved and unpacked. */
async function installFromDisk(root: string, version: string): Promise<void> {
  await mutate({ root }, `fixture install ${version}`, async (session: StagingSession) => {
    const { layout, journal, ledger, config, runtime } = session;
    if (journal.state.releases[version]) throw new Error(`fixture root: ${version} is installed already`);
    const stagingId = newId();
    ledger.beginOperation({ kind: 'install', id: stagingId, startedAt: new Date().toISOString(), versions: [version] });
    await journal.commit('install:begin');
    const dir = join(layout.stagingDir(stagingId), 'package');
    try {
      await writeInstalledGateway(dir, version);
      const earlier = await reuseCandidates(session);
      const node = { path: config.node ?? process.execPath, version: process.version };
      const sealed = await sealStaged({
        layout,
        pkgDir: dir,
        earlier,
        identity: { name: config.package, version, integrity: null, source: 'fixture-root (test)', node },
        progress: runtime.onProgress,
      });
      await commitRelease(session, { dir, ...sealed, earlier }, 'installed');
    } finally {
      await rm(layout.stagingDir(stagingId), { recursive: true, force: true });
    }
  });
}

/**
 * The fixture gateway's tree as `npm install -g` leaves it: the package (fixture-sources.ts), its postinstall's
 * work done (`.lifecycle-pending` gone, `postinstall-ran.txt`) and `rs-fixture-dep` in its node_modules.
 */
async function writeInstalledGateway(dir: string, version: string): Promise<void> {
  await writeGateway(dir, { name: FIXTURE_PACKAGE, version, depRange: '^1.0.0', engines: '>=20' });
  await rm(join(dir, '.lifecycle-pending'));
  await writeFile(join(dir, 'postinstall-ran.txt'), `${process.execPath}\n`);
  const dep = join(dir, 'node_modules', 'rs-fixture-dep');
  await mkdir(dep, { recursive: true });
  await writeDep(dep, { version: '1.0.0', postinstall: false });
}

/**
 * For a test file: a root written once (in beforeAll) and copied fresh for each test, as `templateRoot` (cli.ts) does
 * with one installed from the registry. `versions[0]` is current. Owned by the test process (the library acting in
 * it mutates only roots of its own account: store/root-trust.ts). The copies live in one folder made in beforeAll and
 * removed after the file: a test's own clean-up hook would be another's where tests run concurrently.
 */
export function fixtureRoots(versions: string[], settings: Settings = {}): () => string {
  let template: string | undefined;
  let folder: string | undefined;
  let made = 0;
  beforeAll(async () => {
    folder = tempDir('rs-fixture-roots-', null);
    template = await writeFixtureRoot(join(folder, 'template'), { versions, settings });
  });
  return () => copyRoot(template!, join(folder!, `root-${++made}`));
}

/**
 * The root as a SIGKILL at crash point `point` leaves it, in process: `run` is driven with the point armed, and where
 * the library would kill its process (platform/crashpoint.ts) the root is copied as it is on disk that moment (`cp
 * -a`) and the run stopped. In the copy the lock's owner record names a pid that is gone, as the killed process's
 * does. Returns the copy; throws when the point was never reached. Not for tests running concurrently (it arms the
 * process's crash point and stands in for its `process.kill`).
 */
export async function killedAt(root: string, point: CrashPointName, run: () => Promise<unknown>): Promise<string> {
  const killed = `${root}-killed-at-${point.replace(/:/g, '-')}`;
  const kill = process.kill;
  let reached = false;
  process.kill = ((pid: number, signal?: string | number) => {
    if (pid !== process.pid || signal !== 'SIGKILL') return kill.call(process, pid, signal);
    reached = true;
    execFileSync('cp', ['-a', root, killed]);
    throw new Error(`killed at ${point} (in process)`);
  }) as typeof process.kill;
  armCrashPoint(point);
  try {
    await run().catch((error: unknown) => {
      if (!reached) throw error;
    });
  } finally {
    armCrashPoint(undefined);
    process.kill = kill;
  }
  if (!reached) throw new Error(`${point} was never reached`);
  const gone = spawnSync('true').pid; // exited: a pid no process has now
  const owner = join(killed, '.lock-owner.json');
  if (existsSync(owner))
    writeFileSync(owner, JSON.stringify({ ...JSON.parse(readFileSync(owner, 'utf8')), pid: gone }));
  return killed;
}
