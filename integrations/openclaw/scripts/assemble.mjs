#!/usr/bin/env node
// Writes the plugin as a folder OpenClaw can install (`openclaw plugins install <folder>`), self-contained: the built
// plugin, and release-switcher with its runtime dependencies in the folder's own node_modules. The work is
// release-switcher's own `openclawPlugin` (src/verbs/openclaw-plugin.ts, which says why the folder looks so), the
// same that `release-switcher openclaw-plugin` runs from an installed package; this runs it from the checkout's build.
//
//   node scripts/assemble.mjs [OUT]     (default: integrations/openclaw/out)
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pluginDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { openclawPlugin } = await import(path.join(pluginDir, '..', '..', 'dist', 'index.js'));
const result = await openclawPlugin({ out: path.resolve(process.argv[2] ?? path.join(pluginDir, 'out')) });
process.stdout.write(`${result.out}\n`);
process.stderr.write(`release-switcher ${result.version} and ${result.packages} packages it needs at runtime\n`);
