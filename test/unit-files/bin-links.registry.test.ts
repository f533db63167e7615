// `init --link-bin` / `--unlink-bin` through the built CLI, and doctor naming it: npm -g's `openclaw` link (recorded at
// adopt) is stale after an update; doctor's one fixing command repoints it at <root>/bin/openclaw, and --unlink-bin
// puts back exactly what npm had written.
import { mkdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { commandsOnPath } from '../../src/doctor/commands-on-path.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { recordNpmLinks } from '../../src/unit-files/bin-links.ts';
import { cli, tempDir } from '../support/cli.ts';

import { runThisFileAsRoot } from '../support/accounts.ts';
runThisFileAsRoot('it plants npm -g links and their record as root; moving it to the account is still to do');

it('doctor names init --link-bin for a recorded npm -g link; it repoints the link, --unlink-bin puts it back', async () => {
  const dir = tempDir();
  const root = path.join(dir, 'root');
  expect((await cli(['--root', root, 'init', '--package', 'openclaw', '--supervisor', 'none'])).exitCode).toBe(0);
  const layout = layoutOf(root);
  const ours = path.join(root, 'bin', 'openclaw');
  mkdirSync(path.dirname(ours), { recursive: true });
  writeFileSync(ours, '#!/bin/sh\n', { mode: 0o755 });
  const npmBin = path.join(dir, 'prefix', 'bin');
  const adopted = path.join(dir, 'prefix', 'lib', 'node_modules', 'openclaw', 'openclaw.mjs');
  mkdirSync(path.dirname(adopted), { recursive: true });
  writeFileSync(adopted, '#!/usr/bin/env node\n', { mode: 0o755 });
  mkdirSync(npmBin);
  const npmTarget = '../lib/node_modules/openclaw/openclaw.mjs';
  const link = path.join(npmBin, 'openclaw');
  symlinkSync(npmTarget, link);
  await recordNpmLinks(root, [{ name: 'openclaw', link, ours }]); // what adopt records
  const env = { PATH: `${npmBin}:/usr/bin:/bin` };

  const stale = await commandsOnPath({ layout, env });
  const fix = `release-switcher --root ${root} init --link-bin`;
  expect(stale).toMatchObject({ ok: false });
  expect(stale!.detail).toContain(`Fix: ${fix}`);

  const linked = await cli(['--root', root, '--json', 'init', '--link-bin']);
  expect(linked.exitCode, linked.stdout + linked.stderr).toBe(0);
  expect(readlinkSync(link)).toBe(ours);
  expect(linked.json.result.links).toEqual([{ name: 'openclaw', link, ours, original: npmTarget }]);
  expect(await commandsOnPath({ layout, env })).toMatchObject({ ok: true });

  const unlinked = await cli(['--root', root, '--json', 'init', '--unlink-bin']);
  expect(unlinked.exitCode, unlinked.stdout + unlinked.stderr).toBe(0);
  expect(readlinkSync(link)).toBe(npmTarget);
  expect(await commandsOnPath({ layout, env })).toMatchObject({ ok: false });
});

it('refuses --link-bin on a root that adopted nothing, and leaves a link that is not a symlink alone', async () => {
  const dir = tempDir();
  const root = path.join(dir, 'root');
  expect((await cli(['--root', root, 'init', '--package', 'openclaw', '--supervisor', 'none'])).exitCode).toBe(0);
  const none = await cli(['--root', root, '--json', 'init', '--link-bin']);
  expect(none.exitCode).toBe(2);
  expect(none.json.error.hint).toContain('--adopt');
  const file = path.join(dir, 'openclaw');
  writeFileSync(file, '#!/bin/sh\n', { mode: 0o755 });
  await recordNpmLinks(root, [{ name: 'openclaw', link: file, ours: path.join(root, 'bin', 'openclaw') }]);
  const refused = await cli(['--root', root, '--json', 'init', '--link-bin']);
  expect(refused.exitCode).toBe(2);
  expect(refused.json.error.hint).toContain('export PATH=');
});
