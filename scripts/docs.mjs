#!/usr/bin/env node
// Writes the generated references from the build (npm run docs builds first): docs/cli.md from the command
// definitions (src/cli/reference.ts, as the man page and the help) and docs/configuration.md from
// layout/config.schema.json. test/docs.test.ts fails when the committed files differ from what this writes.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { cliReference, configReference } = await import(path.join(repo, 'dist', 'cli', 'reference.js'));
const schema = JSON.parse(await readFile(path.join(repo, 'layout', 'config.schema.json'), 'utf8'));
const docs = path.join(repo, 'docs');
await mkdir(docs, { recursive: true });
for (const [file, text] of [
  ['cli.md', cliReference()],
  ['configuration.md', configReference(schema)],
]) {
  await writeFile(path.join(docs, file), text);
  process.stderr.write(`wrote docs/${file}\n`);
}
