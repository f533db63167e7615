// The generated hostile-tarball corpus (test/support/hostile-corpus.ts) through the one-pass unpacker, and a
// sample of it end to end through `install` of the built CLI. Every case is refused (BAD_TARBALL, for the
// reason it was built for, nothing left) or harmless and contained (exactly the paths it names, npm's modes,
// every link resolving inside); either way nothing outside the destination changes: a 0600 file, a 0700
// directory and its 0600 file keep their bytes, modes, inodes and times, and no name appears anywhere near.
import { createHash } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unpackTarball } from '../../src/stage/unpack.ts';
import { rs, templateRoot } from '../support/cli.ts';
import { type CorpusCase, encodeCase, hostileCorpus } from '../support/hostile-corpus.ts';
import { linkOf, releaseDirs, stagingEntries } from '../support/root.ts';

/** Sentinels beside whatever is unpacked: `outside/secret` 0600, `outside/dir/` 0700 with `inner` 0600. */
function plantSentinels(outside: string): void {
  mkdirSync(join(outside, 'dir'), { recursive: true, mode: 0o700 });
  writeFileSync(join(outside, 'secret'), 'secret\n', { mode: 0o600 });
  writeFileSync(join(outside, 'dir', 'inner'), 'inner\n', { mode: 0o600 });
}

/** Every path below `top` (except `skip`) with its kind, mode, inode, times and bytes. */
function snapshot(top: string, skip: (path: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (path: string) => {
    if (skip(path)) return;
    const s = lstatSync(path, { bigint: true });
    const kind = s.isSymbolicLink()
      ? `link:${readlinkSync(path)}`
      : s.isDirectory()
        ? 'dir'
        : s.isFile()
          ? `file:${createHash('sha256').update(readFileSync(path)).digest('hex')}`
          : 'other';
    // A directory's own times move whenever the test writes or removes its case in it; what is in it is listed here.
    const times = s.isDirectory() ? '' : ` mtime=${s.mtimeNs} ctime=${s.ctimeNs} nlink=${s.nlink}`;
    out[path] = `${kind} mode=${(s.mode & 0o7777n).toString(8)} ino=${s.ino}${times}`;
    if (s.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(top);
  return out;
}

/**
 * Resolve the symlink at `rel` against what is on disk below `dest`, link by link (a missing name is taken
 * lexically, as a later write could create it): the segments it lands on, or undefined when it leaves.
 */
function resolveOnDisk(dest: string, rel: string): string[] | undefined {
  const current = rel.split('/').slice(0, -1);
  const queue = readlinkSync(join(dest, rel)).split('/');
  if (queue[0] === '') return undefined; // absolute
  let hops = 0;
  while (queue.length > 0) {
    const segment = queue.shift()!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (current.length === 0) return undefined;
      current.pop();
      continue;
    }
    current.push(segment);
    let stat: ReturnType<typeof lstatSync> | undefined;
    try {
      stat = lstatSync(join(dest, ...current));
    } catch {
      stat = undefined;
    }
    if (!stat?.isSymbolicLink()) continue;
    const next = readlinkSync(join(dest, ...current));
    if (next.startsWith('/') || ++hops > 40) return undefined;
    current.pop();
    queue.unshift(...next.split('/'));
  }
  return current;
}

/** What a contained unpack wrote: paths, and a problem for anything not as npm would write it. */
function inspectWritten(dest: string): { paths: string[]; problems: string[] } {
  const paths: string[] = [];
  const problems: string[] = [];
  const visit = (rel: string) => {
    for (const name of readdirSync(join(dest, rel))) {
      const child = rel === '' ? name : `${rel}/${name}`;
      paths.push(child);
      const s = lstatSync(join(dest, child));
      const mode = s.mode & 0o7777;
      if (s.isSymbolicLink()) {
        if (resolveOnDisk(dest, child) === undefined)
          problems.push(`${child} -> ${readlinkSync(join(dest, child))} leaves the destination`);
      } else if (s.isDirectory()) {
        if (mode !== 0o755) problems.push(`${child}: directory mode ${mode.toString(8)}`);
        visit(child);
      } else if (s.isFile()) {
        if (mode !== 0o644 && mode !== 0o755) problems.push(`${child}: file mode ${mode.toString(8)}`);
        if (s.nlink !== 1) problems.push(`${child}: ${s.nlink} links`);
      } else problems.push(`${child}: neither file, directory nor symlink`);
    }
  };
  visit('');
  return { paths: paths.sort(), problems };
}

// ---------------------------------------------------------------------------------------------------------

const top = mkdtempSync(join(tmpdir(), 'rs-corpus-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
const outside = join(top, 'outside');
// Deep, so a short climb out of the destination still lands inside `top`, where the snapshot sees it.
const dest = join(top, 'a', 'b', 'c', 'd', 'dest');
const tarball = join(top, 'case.tgz');
plantSentinels(outside);
mkdirSync(dirname(dest), { recursive: true });
const notOurs = (path: string) => path === dest || path === tarball;
const before = snapshot(top, notOurs);
const corpus = hostileCorpus({ outside });

describe('the generated hostile corpus', () => {
  it('has at least 50 distinct tarballs, covering every family, both outcomes', () => {
    const ids = corpus.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const bytes = new Set(corpus.map((c) => encodeCase(c).toString('base64')));
    expect(bytes.size).toBe(corpus.length);
    expect(corpus.length).toBeGreaterThanOrEqual(50);
    const families = new Set(corpus.map((c) => c.family));
    expect([...families].sort()).toEqual(['duplicates', 'global', 'headers', 'links', 'names', 'type-flags']);
    for (const family of families)
      expect(corpus.filter((c) => c.family === family).length, family).toBeGreaterThanOrEqual(6);
    const refused = corpus.filter((c) => c.expect === 'refuse').length;
    console.log(
      `hostile corpus: ${corpus.length} tarballs, ${refused} to be refused, ${corpus.length - refused} harmless and contained`,
    );
  });
});

describe.each(['names', 'global', 'type-flags', 'links', 'duplicates', 'headers'])('hostile corpus: %s', (family) => {
  it.each(corpus.filter((c) => c.family === family).map((c) => [c.id, c] as const))(
    '%s',
    async (_id, c: CorpusCase) => {
      writeFileSync(tarball, encodeCase(c));
      try {
        const outcome = await unpackTarball({ source: tarball, dest, strip: 1 }).then(
          () => undefined,
          (error: unknown) => error as Error & { code?: string },
        );
        if (c.expect === 'refuse') {
          expect(outcome?.code, `${c.id} must be refused: ${outcome?.stack ?? 'it was unpacked'}`).toBe('BAD_TARBALL');
          expect(outcome!.message).toMatch(c.why!);
          expect(lstatSafe(dest), 'nothing left where it unpacked').toBeUndefined();
        } else {
          expect(outcome, `${c.id} is harmless and unpacks`).toBeUndefined();
          const { paths, problems } = inspectWritten(dest);
          expect(problems).toEqual([]);
          expect(paths).toEqual(c.written);
          for (const [rel, text] of Object.entries(c.contents ?? {}))
            expect(readFileSync(join(dest, rel), 'utf8')).toBe(text);
        }
        expect(snapshot(top, notOurs), 'nothing outside the destination changed').toEqual(before);
      } finally {
        rmSync(dest, { recursive: true, force: true });
        rmSync(tarball, { force: true });
      }
    },
  );
});

function lstatSafe(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------

/** One of each kind of trick, through `install` of the built CLI from a .tgz path. */
const END_TO_END = [
  'names/pax-path-and-gnu-long-name-disagree',
  'names/dotdot-to-outside/ustar-prefix',
  'names/segment-longer-than-NAME_MAX/gnu-long-name',
  'global/linkpath',
  'links/chain-reverse-order/ustar-linkname',
  'links/file-written-through-to-outside/gnu-long-link',
  'links/hardlink-absolute-outside/pax-linkpath',
  "type-flags/'S'",
  'duplicates/dir-then-link-inside',
  'headers/setuid-file',
];

describe('hostile tarballs end to end: install refuses them with BAD_TARBALL', () => {
  const copyOfTemplate = templateRoot(['1.0.0']);

  it.each(END_TO_END)('%s', async (id) => {
    const root = copyOfTemplate();
    const parent = dirname(root);
    const watched = join(parent, 'outside');
    plantSentinels(watched);
    const c = hostileCorpus({ outside: watched, name: 'rs-fixture-gateway', version: '6.6.6' }).find(
      (x) => x.id === id,
    );
    expect(c, `${id} is in the corpus`).toBeDefined();
    const file = join(parent, 'hostile.tgz');
    writeFileSync(file, encodeCase(c!));
    const releases = releaseDirs(root);
    const around = snapshot(parent, (path) => path === root);
    const r = await rs(root, ['install', file]);
    expect(r.json?.error?.code, r.stdout + r.stderr).toBe('BAD_TARBALL');
    expect(r.exitCode).toBe(1);
    expect(r.json.error.hint).toBeTruthy();
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(stagingEntries(root)).toEqual([]);
    expect(releaseDirs(root)).toEqual(releases);
    expect(
      snapshot(parent, (path) => path === root),
      'nothing outside the root changed',
    ).toEqual(around);
  });
});
