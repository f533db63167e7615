// release-switcher's own pinned copy (src/tool/), made by the built library in a process of the default test account
// (the normal account when the suite runs as root), as `unit --install`, `timer --install` and a runner make it.
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lchownSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { expect, it, onTestFinished } from 'vitest';
import { type Account, accountOrDefault, asAccount } from '../support/accounts.ts';
import { runnableBy, tempDir } from '../support/cli.ts';
import { settleFlip } from '../../src/tool/flip.ts';
import { toolLayout } from '../../src/tool/home.ts';

const who: Account | undefined = accountOrDefault(undefined);
const REPO = path.resolve(import.meta.dirname, '../..');
const runnableFor = (as: Account | null) => (as ? runnableBy(as) : { node: process.execPath, packageDir: REPO });
const VERSION = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;

/** Runs `command` as the test account (or `as`) with the tool home `home`. */
async function runAs(home: string, command: string, args: string[], as: Account | null = who ?? null) {
  const [file, argv] = as ? asAccount(as, command, args) : [command, args];
  return execa(file, argv, {
    env: { PATH: '/usr/bin:/bin', HOME: path.dirname(home), RELEASE_SWITCHER_TOOL_HOME: home },
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  });
}

/** ensureTool of the built library, in a process of the test account: its result and how long it took. */
async function ensureAs(home: string, node?: string, as: Account | null = who ?? null): Promise<any> {
  const lib = pathToFileURL(path.join(runnableFor(as).packageDir, 'dist', 'tool', 'index.js')).href;
  const options = node ? `, node: ${JSON.stringify(node)}` : '';
  const script = `const { ensureTool } = await import(${JSON.stringify(lib)}); const t = Date.now();
const r = await ensureTool({ env: process.env${options} }); console.log(JSON.stringify({ ...r, ms: Date.now() - t }));`;
  const r = await runAs(home, runnableFor(as).node, ['--input-type=module', '-e', script], as);
  expect(r.exitCode, `${r.stdout}${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout);
}

const freshHome = () => path.join(tempDir('rs-tool-'), 'home');

/** Paths under `dir` with a write bit (none in a sealed copy). */
const writable = (dir: string) =>
  execFileSync('find', [dir, '-perm', '/222', '-not', '-type', 'l'], { encoding: 'utf8' }).trim();

// The default test account, and root (its tool home is per host; a case about root, said in the title).
const makers: Array<[string, Account | null]> = [['the test account', who ?? null]];
if (who && process.getuid?.() === 0) makers.push(['root', null]);
it.each(makers)(
  '%s makes a sealed copy of itself and of its Node once, then finds it by its key; through `current` it answers from its version folder',
  async (_, as) => {
    const home = path.join(tempDir('rs-tool-', as), 'home');
    const first = await ensureAs(home, undefined, as);
    const again = await ensureAs(home, undefined, as);
    process.stderr.write(`pinned copy: first ${first.ms} ms (made), again ${again.ms} ms (found)\n`);
    expect([first.built, again.built]).toEqual([true, false]);
    expect(again.versioned.dir).toBe(first.versioned.dir);
    expect(path.basename(first.versioned.dir)).toMatch(new RegExp(`^${VERSION.replaceAll('.', '\\.')}-[0-9a-f]{12}$`));
    expect(readlinkSync(path.join(home, 'current'))).toBe(`versions/${path.basename(first.versioned.dir)}`);
    // Sealed like a release, the account's, not writable by others; the Node is a copy (npm or nvm may remove the other).
    expect(writable(first.versioned.dir)).toBe('');
    expect(statSync(first.versioned.node).size).toBe(statSync(runnableFor(as).node).size);
    expect(statSync(first.versioned.node).ino).not.toBe(statSync(runnableFor(as).node).ino);
    for (const dir of [home, path.join(home, 'versions'), first.versioned.dir]) {
      expect(statSync(dir).uid).toBe(as?.uid ?? process.getuid!());
      expect(statSync(dir).mode & 0o022).toBe(0);
    }
    // Through the link, Node resolves the main script's real path (and its own, process.execPath): its later imports come
    // from its own version folder, whatever `current` names by then.
    const shake = await runAs(home, first.link.node, [first.link.cli, '--json', 'handshake'], as);
    expect(JSON.parse(shake.stdout).result).toEqual({
      tool: 'release-switcher',
      version: VERSION,
      protocol: 1,
      node: first.versioned.node,
      cli: first.versioned.cli,
    });
  },
);

it('two processes making the same copy at once both succeed, and one copy is kept', async () => {
  const home = freshHome();
  const [a, b] = await Promise.all([ensureAs(home), ensureAs(home)]);
  expect(a.versioned.dir).toBe(b.versioned.dir);
  expect(readdirSync(path.join(home, 'versions'))).toEqual([path.basename(a.versioned.dir)]);
  expect(readdirSync(home).sort()).toEqual(['current', 'versions']); // no journal, no lock left
});

/** A complete copy of another version, made by hand (its marker only), owned by the account. */
function fakeCopy(home: string, name: string, version: string): void {
  const dir = path.join(home, 'versions', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'tool.json'), JSON.stringify({ tool: 'release-switcher', version, key: 'fake' }));
  if (who) for (const file of [dir, path.join(dir, 'tool.json')]) chownSync(file, who.uid, who.gid);
}

it('a copy never flips `current` back over a newer version (an older release-switcher still run somewhere)', async () => {
  const home = freshHome();
  const own = await ensureAs(home);
  fakeCopy(home, '99.0.0-fake', '99.0.0');
  const current = path.join(home, 'current');
  execFileSync('ln', ['-sfn', 'versions/99.0.0-fake', current]);
  if (who) lchownSync(current, who.uid, who.gid);
  const again = await ensureAs(home);
  expect(again.currentVersion).toBe('99.0.0');
  expect(readlinkSync(current)).toBe('versions/99.0.0-fake');
  // Its own copy is still there for what names it by version (a runner).
  expect(again.versioned.dir).toBe(own.versioned.dir);
  expect(statSync(own.versioned.cli).isFile()).toBe(true);
});

it('a flip cut short is finished when the copy it flips to is whole, and undone when it is not (in-process)', async () => {
  const home = path.join(tempDir('rs-tool-', null), 'home');
  const layout = toolLayout(home);
  mkdirSync(layout.versions, { recursive: true });
  fakeCopy(home, '1.0.0-a', '1.0.0');
  fakeCopy(home, '2.0.0-b', '2.0.0');
  // Killed after `previous` moved, before `current` did.
  symlinkSync('versions/1.0.0-a', layout.current);
  symlinkSync('versions/1.0.0-a', layout.previous);
  writeFileSync(
    layout.journal,
    JSON.stringify({ from: { current: '1.0.0-a', previous: null }, to: { current: '2.0.0-b', previous: '1.0.0-a' } }),
  );
  await settleFlip(layout);
  expect([readlinkSync(layout.current), readlinkSync(layout.previous)]).toEqual([
    'versions/2.0.0-b',
    'versions/1.0.0-a',
  ]);
  expect(readdirSync(home)).not.toContain('flip.json');
  // The copy it was flipping to is not whole (no marker): undone, back to what the links named before.
  writeFileSync(
    layout.journal,
    JSON.stringify({
      from: { current: '2.0.0-b', previous: '1.0.0-a' },
      to: { current: '3.0.0-c', previous: '2.0.0-b' },
    }),
  );
  await settleFlip(layout);
  expect([readlinkSync(layout.current), readlinkSync(layout.previous)]).toEqual([
    'versions/2.0.0-b',
    'versions/1.0.0-a',
  ]);
  expect(readdirSync(home)).not.toContain('flip.json');
});

it('an old copy is kept while a process started through `current` runs it, and removed once nothing does', async () => {
  const home = freshHome();
  const first = await ensureAs(home);
  // A long-running process started through the link (as a boot-check or a tick is): its exe is the copy's own Node.
  const [file, argv] = who
    ? asAccount(who, first.link.node, ['-e', 'setInterval(() => {}, 1000)'])
    : [first.link.node, ['-e', 'setInterval(() => {}, 1000)']];
  const child = spawn(file, argv, { stdio: 'ignore' });
  onTestFinished(() => void child.kill('SIGKILL'));
  const exe = () => readlinkSync(`/proc/${child.pid}/exe`);
  await expect.poll(() => exe().startsWith(first.versioned.dir), { timeout: 10_000 }).toBe(true);
  // Two more installations (other Nodes: other keys): the first copy is neither current nor previous any more.
  const nodes = path.join(tempDir('rs-tool-nodes-', null), 'nodes');
  mkdirSync(nodes);
  chmodSync(path.dirname(nodes), 0o755);
  for (const name of ['node-b', 'node-c']) {
    writeFileSync(path.join(nodes, name), `#!/bin/sh\n# ${name}\n`);
    chmodSync(path.join(nodes, name), 0o755);
  }
  const second = await ensureAs(home, path.join(nodes, 'node-b'));
  const third = await ensureAs(home, path.join(nodes, 'node-c'));
  expect(readlinkSync(path.join(home, 'current'))).toBe(`versions/${path.basename(third.versioned.dir)}`);
  expect(readlinkSync(path.join(home, 'previous'))).toBe(`versions/${path.basename(second.versioned.dir)}`);
  expect(third.removed).toEqual([]);
  expect(statSync(first.versioned.cli).isFile()).toBe(true);
  child.kill('SIGKILL');
  await expect.poll(() => child.exitCode !== null || child.signalCode !== null, { timeout: 10_000 }).toBe(true);
  const after = await ensureAs(home, path.join(nodes, 'node-c'));
  expect(after.removed).toEqual([path.basename(first.versioned.dir)]);
  expect(readdirSync(path.join(home, 'versions')).sort()).toEqual(
    [path.basename(second.versioned.dir), path.basename(third.versioned.dir)].sort(),
  );
});
