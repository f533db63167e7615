// The docs' maps, checked against the code: layout/README.md's tree of a root against `layoutOf()` (every path it
// gives, nothing else), docs/how-it-works.md's map of the house against check-layers' layers and the folders of
// src/, every source file and type these docs name against the repository (a file moved or a type renamed fails
// here), and the dependencies the docs explain against package.json.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYERS, ROOMS } from '../scripts/check-layers.mjs';
import { layoutOf } from '../src/store/layout.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(path.join(REPO, file), 'utf8');
const SOURCES = readdirSync(path.join(REPO, 'src'), { recursive: true, encoding: 'utf8' }).map(
  (file) => `src/${file.split(path.sep).join('/')}`,
);
/** Folders of the repository besides src/ that a doc may name a file in (`test/docs.test.ts`). */
const TOP_FOLDERS = ['test', 'scripts', 'bench', 'examples', 'integrations'];
const FOLDERS = SOURCES.filter((file) => !/\.[a-z]+$/.test(file)).map((folder) => folder.slice('src/'.length));

/** The top-level names of a root: the first segment of every path `layoutOf()` gives. */
const ROOT_NAMES = new Set(
  Object.values(layoutOf('/r'))
    .filter((value): value is string => typeof value === 'string' && value !== '/r')
    .map((value) => path.relative('/r', value).split('/')[0]!),
);

/** The lines of the fenced block that follows `after` in `text`. */
function blockAfter(text: string, after: string): string[] {
  const start = text.indexOf('```', text.indexOf(after));
  expect(text.indexOf(after), `the docs have "${after}"`).toBeGreaterThan(-1);
  return text.slice(text.indexOf('\n', start) + 1, text.indexOf('\n```', start)).split('\n');
}

/** A section of a markdown file: from its heading to the next heading of that level. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  expect(start, `the docs have ${heading}`).toBeGreaterThan(-1);
  const level = heading.split(' ')[0]!;
  const end = text.indexOf(`\n${level} `, start + heading.length);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Names a rotation or a sibling of a layout path (`runner.log.<1-5>`), not a path of its own. */
const derived = (name: string) => [...ROOT_NAMES].some((known) => name.startsWith(`${known}.`));

/** The source files and types a doc names that the repository does not have (a bare path is one in src/). */
function staleReferences(doc: string): string[] {
  const text = read(doc);
  const problems: string[] = [];
  for (const [file] of text.matchAll(/(?<![\w/.-])(?:[\w-]+\/)*[\w.-]+\.ts\b/g)) {
    const top = file.split('/')[0]!;
    const found = file.startsWith('src/')
      ? SOURCES.includes(file)
      : TOP_FOLDERS.includes(top)
        ? existsSync(path.join(REPO, file))
        : SOURCES.some((source) => source.endsWith(`/${file}`));
    if (!found) problems.push(`${doc}: ${file}: no such file in the repository`);
  }
  for (const [, type, file] of text.matchAll(/\(type `?(\w+)`?, (src\/[\w/.-]+\.ts)/g)) {
    const exported = new RegExp(`export (?:interface|type|class|const) ${type}\\b`);
    if (SOURCES.includes(file!) && !exported.test(read(file!))) problems.push(`${doc}: ${file} exports no ${type}`);
  }
  return problems;
}

describe("layout/README.md, a root's map", () => {
  const text = read('layout/README.md');
  const tree = blockAfter(text, 'One root holds one application:')
    .slice(1) // `<root>/`
    .map((line) => line.trim().split(/\s+/)[0]!.split('/')[0]!);

  it('its tree names every path layoutOf() gives, and nothing else at the top of a root', () => {
    expect(ROOT_NAMES.size).toBeGreaterThan(15);
    expect([...ROOT_NAMES].filter((name) => !tree.includes(name))).toEqual([]);
    expect(tree.filter((name) => !ROOT_NAMES.has(name) && !derived(name))).toEqual([]);
  });

  it('"Files and folders" has a row for each of them', () => {
    const rows = [...section(text, '## Files and folders').matchAll(/^\| `([^`]+)` \|/gm)].map(
      (m) => m[1]!.split('/')[0]!,
    );
    expect([...ROOT_NAMES].filter((name) => !rows.includes(name))).toEqual([]);
  });

  it('every source file it names is in src/, every type it places in a file is exported there', () => {
    expect(staleReferences('layout/README.md')).toEqual([]);
  });
});

describe('docs/how-it-works.md, the map of the house', () => {
  const text = read('docs/how-it-works.md');
  const map = section(text, '## How the code is laid out');

  it("its table is check-layers' layers, top to bottom, row by row", () => {
    const rows = [...map.matchAll(/^\| (`[^|]+) \|/gm)].map((m) =>
      [...m[1]!.matchAll(/`([^`]+)`/g)].map((name) => name[1]!.replace(/\/$/, '')),
    );
    expect(rows).toEqual(LAYERS);
  });

  it('names every folder of src/, and the rooms of stage/ in their order', () => {
    const named = (folder: string) =>
      map.includes(`\`${folder}/\``) || map.includes(`\`${folder.split('/').pop()}/\``) || map.includes(`${folder}/`);
    expect(FOLDERS.length).toBeGreaterThan(15);
    expect(FOLDERS.filter((folder) => !named(folder))).toEqual([]);
    const rooms = ROOMS.stage.slice(1).map(([room]: string[]) => `\`${room}/\``);
    expect(map.replace(/\s+/g, ' ')).toContain(`its own files, then ${rooms.join(', ')}`);
  });

  it('its summary of a root names only paths layoutOf() gives; every source file it names is in src/', () => {
    const summary = blockAfter(text, '## On-disk layout').map((line) => line.split(/\s+/)[0]!.split('/')[1]!);
    expect(summary.length).toBeGreaterThan(10);
    expect(summary.filter((name) => !ROOT_NAMES.has(name.replace(/,$/, '')))).toEqual([]);
    expect(staleReferences('docs/how-it-works.md')).toEqual([]);
  });
});

describe('docs/how-it-works.md, the dependencies', () => {
  it('"Dependencies and why" names every package the product depends on', () => {
    const why = section(read('docs/how-it-works.md'), '## Dependencies and why');
    const { dependencies } = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    expect(Object.keys(dependencies).filter((name) => !why.includes(`\`${name}\``))).toEqual([]);
  });
});
