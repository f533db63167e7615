#!/usr/bin/env node
// Writes dist/man/release-switcher.1 from the built command definitions (src/cli/manpage.ts), after tsc: the man
// page says what the CLI parses, and package.json `man` has `npm install -g` link it where man(1) looks.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { manPage } = await import(path.join(repo, 'dist', 'cli', 'manpage.js'));
const { version } = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8'));
const out = path.join(repo, 'dist', 'man', 'release-switcher.1');
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, manPage(version));
