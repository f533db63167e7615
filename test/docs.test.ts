// The docs that ship (README.md and docs/): the two generated references are exactly what their generator makes from
// the sources now (so they never go stale: `npm run docs` rewrites them), every relative link lands on a file the
// package ships and on a heading that file has, and the hand-written lists (error codes, step names, the example,
// the schema's defaults shown in the configuration reference) agree with the code.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ConfigSchema, cliReference, configReference } from '../src/cli/reference.ts';
import { ErrorCodes } from '../src/model/errors.ts';
import { STEP_NAMES } from '../src/model/state.ts';
import { defaultConfig } from '../src/store/config.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(path.join(REPO, file), 'utf8');
const schema = JSON.parse(read('layout/config.schema.json')) as ConfigSchema;
const DOCS = [
  'README.md',
  ...readdirSync(path.join(REPO, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

const MD = '.md';

/** Markdown without fenced blocks and code spans: what is left is where links and headings live. */
function prose(text: string): string {
  return text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Link targets: inline `[text](target)` and reference definitions `[label]: target`. */
function linksOf(text: string): string[] {
  const body = prose(text);
  return [
    ...[...body.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!),
    ...[...body.matchAll(/^\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]!),
  ];
}

/** The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  const headings = text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm);
  for (const [, heading] of headings) {
    const base = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Whether npm packs `file` (relative to the repository): package.json `files`, which npm always extends by these. */
function shipped(file: string): boolean {
  const { files } = JSON.parse(read('package.json')) as { files: string[] };
  const included = [...files.filter((entry) => !entry.startsWith('!')), 'package.json', 'README.md', 'LICENSE'];
  return included.some((entry) => file === entry || file.startsWith(`${entry}/`));
}

describe('the generated references', () => {
  it.each([
    ['docs/cli.md', () => cliReference()],
    ['docs/configuration.md', () => configReference(schema)],
  ])('%s is what `npm run docs` writes from the sources now', (file, generate) => {
    expect(read(file), `${file} is stale: run npm run docs`).toBe(generate());
  });

  it("shows the code's defaults: every default in the config schema is defaultConfig()'s, and every field has one", () => {
    const defaults = defaultConfig('p') as unknown as Record<string, unknown>;
    const inSchema = Object.entries(schema.properties).filter(([, field]) => 'default' in field);
    expect(Object.fromEntries(inSchema.map(([name, field]) => [name, field.default]))).toEqual(
      Object.fromEntries(inSchema.map(([name]) => [name, defaults[name]])),
    );
    expect(inSchema.map(([name]) => name).sort()).toEqual(
      Object.keys(defaults)
        .filter((name) => name !== 'layoutVersion' && name !== 'package')
        .sort(),
    );
  });
});

describe('links in README.md and docs/', () => {
  it('finds the docs and their links', () => {
    expect(DOCS).toEqual(expect.arrayContaining(['README.md', 'docs/cli.md', 'docs/configuration.md']));
    expect(linksOf(read('README.md')).length).toBeGreaterThan(10);
  });

  it.each(DOCS)('%s: every relative link lands inside the package, on a file it ships and a heading it has', (doc) => {
    const problems: string[] = [];
    for (const link of linksOf(read(doc))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) {
        if (!/^https?:\/\//.test(link)) problems.push(`${link}: not a relative link or a web address`);
        continue;
      }
      const [target = '', anchor] = link.split('#');
      const file = target ? path.resolve(REPO, path.dirname(doc), decodeURIComponent(target)) : path.join(REPO, doc);
      const relative = path.relative(REPO, file);
      if (relative.startsWith('..') || path.isAbsolute(relative)) {
        problems.push(`${link}: leaves the repository`);
        continue;
      }
      let isFile = false;
      try {
        isFile = statSync(file).isFile();
      } catch {}
      if (!isFile) problems.push(`${link}: no such file`);
      else if (!shipped(relative.split(path.sep).join('/'))) problems.push(`${link}: not in the package (files)`);
      else if (anchor && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor))
        problems.push(`${link}: ${relative} has no heading #${anchor}`);
    }
    expect(problems).toEqual([]);
  });

  it('refuses what leaves the package, a missing file and a missing heading', () => {
    const outside = `../elsewhere/NOTES${MD}`; // spelled in parts: the citation check reads this file too
    expect(linksOf(`[a](${outside}) \`[b](c.md)\` [d](docs/cli.md#init)`)).toEqual([outside, 'docs/cli.md#init']);
    expect(shipped('docs/cli.md')).toBe(true);
    expect(shipped('examples/openclaw-update-run.ts')).toBe(false);
    expect(
      anchorsOf("## OpenClaw's external-supervisor contract\n## What `install` does\n## doctor\n## doctor"),
    ).toEqual(new Set(['openclaws-external-supervisor-contract', 'what-install-does', 'doctor', 'doctor-1']));
  });
});

describe('what the README and docs list', () => {
  it('the README stays short and gives the two set-up commands, `npm test` the test command', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm ci && npm test');
    expect(readme).toContain('**`npm test` is the test command**');
  });

  it('every error code, with its exit code, in docs/exit-codes-and-json.md, and named in the README', () => {
    const rows = [...read('docs/exit-codes-and-json.md').matchAll(/^\| `([A-Z_]+)` \| (\d) \|/gm)];
    const documented = Object.fromEntries(rows.map(([, code, exit]) => [code, Number(exit)]));
    const expected = Object.fromEntries(Object.entries(ErrorCodes).map(([code, spec]) => [code, spec.exit]));
    // The OpenClaw plugin's own code (integrations/openclaw/src/root.ts).
    expect(documented).toEqual({ ...expected, GATEWAY_NOT_IN_ROOT: 1 });
    const readme = read('README.md');
    expect(Object.keys(documented).filter((code) => !readme.includes(`\`${code}\``))).toEqual([]);
  });

  it('every step name, in docs/exit-codes-and-json.md and in the README', () => {
    const steps = read('docs/exit-codes-and-json.md');
    const readme = read('README.md');
    expect(STEP_NAMES.filter((name) => !new RegExp(`^\\| \`${name}\` \\|`, 'm').test(steps))).toEqual([]);
    expect(STEP_NAMES.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });

  it('docs/library-api.md carries examples/openclaw-update-run.ts as it is (type-checked by npm test)', () => {
    expect(read('docs/library-api.md')).toContain(`\`\`\`ts\n${read('examples/openclaw-update-run.ts')}\`\`\``);
  });
});

/** The repository's files as committed (what .gitignore leaves out is not walked), repository-relative. */
function committedFiles(dir = ''): string[] {
  const skip = new Set(['node_modules', 'dist', '.git', '.bench-cache', '__pycache__', 'package-lock.json']);
  return readdirSync(path.join(REPO, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = path.posix.join(dir, entry.name);
    if (skip.has(entry.name) || entry.name.startsWith('.bench-dist-') || entry.name.endsWith('.log')) return [];
    if (entry.isDirectory()) return committedFiles(file);
    return entry.isFile() ? [file] : [];
  });
}

/**
 * The docs a file cites that the repository does not hold: notes kept elsewhere (an absolute path; a relative path
 * that leaves the repository or lands on nothing, from the file's folder or, for a generator's text, from docs/; a
 * capitalised `<NAME>.md` that no file of the repository is named), and our own `docs/<name>.md` or
 * `layout/<name>.md` that do not exist. Other projects' docs are cited by a path inside their docs
 * (`docs/gateway/health.md`, OpenClaw's), which no rule here reads.
 */
function missingCitations(file: string, text: string, has: (repoPath: string) => boolean, names: Set<string>) {
  const problems: string[] = [];
  for (const [cited] of text.matchAll(/(?<![\w:/.~$}-])\/(?:[\w.-]+\/)*[\w.-]+\.md\b/g))
    problems.push(`${file}: ${cited}: a doc outside the repository`);
  for (const [cited] of text.matchAll(/(?<![\w/.-])\.\.?\/(?:[\w.-]+\/)*[\w.-]+\.md\b/g)) {
    const lands = [path.posix.dirname(file), 'docs'].some((from) => {
      const target = path.posix.normalize(path.posix.join(from, cited));
      return !target.startsWith('..') && has(target);
    });
    if (!lands) problems.push(`${file}: ${cited}: no such doc in the repository`);
  }
  for (const [cited] of text.matchAll(/(?<![\w/.-])[A-Z][A-Z0-9_]*(?:-[A-Z0-9_]+)*\.md\b/g))
    if (!names.has(cited)) problems.push(`${file}: ${cited}: no such doc in the repository`);
  for (const [cited] of text.matchAll(/(?<![\w/.-])(?:docs|layout)\/[\w-]+\.md\b/g))
    if (!has(cited)) problems.push(`${file}: ${cited}: no such doc in the repository`);
  return problems;
}

describe('what the code relies on is in the repository', () => {
  const files = committedFiles();
  const present = new Set(files);
  const names = new Set(files.map((file) => path.posix.basename(file)));

  it('every doc a committed file cites is in the repository (no notes kept elsewhere)', () => {
    expect(files).toEqual(expect.arrayContaining(['src/index.ts', 'docs/how-it-works.md', 'layout/README.md']));
    const problems = files
      .filter((file) => /\.(ts|mts|mjs|js|md|json|jsonc|py|ya?ml|sh|j2)$|^\.ci\//.test(file))
      .flatMap((file) =>
        missingCitations(file, readFileSync(path.join(REPO, file), 'utf8'), (p) => present.has(p), names),
      );
    expect(problems).toEqual([]);
  });

  it('the citation check refuses notes kept elsewhere and a missing doc of ours, and passes our own and theirs', () => {
    const has = (p: string) => present.has(p);
    const cite = (file: string, text: string) => missingCitations(file, text, has, names);
    const design = `DESIGN${MD}`;
    expect(cite('src/a.ts', `// the facts are in ${design}`)).toHaveLength(1);
    expect(cite('src/store/a.ts', `// see ../shared/${design}`)).toHaveLength(1);
    expect(cite('test/a.ts', `// recipe: /srv/notes/${design}`)).toHaveLength(1);
    expect(cite('src/a.ts', `// docs/contract${MD}`)).toHaveLength(1);
    expect(cite(`docs/a${MD}`, `[l](../layout/nothing${MD})`)).toHaveLength(1);
    expect(cite(`docs/a${MD}`, `[l](../layout/README${MD}), docs/testing${MD}, README${MD}`)).toEqual([]);
    expect(cite('src/a.ts', `// OpenClaw's docs/gateway/health${MD}; https://x.test/docs/fleet${MD}`)).toEqual([]);
  });
});
