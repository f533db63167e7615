// doctor's commands-on-path: after adoption, npm -g's `openclaw` (a link to the adopted copy) usually comes first on
// PATH and keeps running that copy; the check fails it and names the command that fixes it, which does.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { commandsOnPath } from '../../src/doctor/commands-on-path.ts';
import { linkNpmBins, recordNpmLinks } from '../../src/unit-files/bin-links.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { tempDir } from '../support/cli.ts';

it('fails a stale command first on PATH, names the fix (which works); passes ours, and a root without commands has no check', async () => {
  const dir = tempDir();
  const layout = layoutOf(path.join(dir, 'root'));
  expect(await commandsOnPath({ layout, env: { PATH: '/usr/bin' } })).toBeUndefined();

  const ours = path.join(layout.root, 'bin', 'openclaw');
  mkdirSync(path.dirname(ours), { recursive: true });
  writeFileSync(ours, '#!/bin/sh\n', { mode: 0o755 });
  // npm -g's layout: <prefix>/bin/openclaw -> ../lib/node_modules/openclaw/openclaw.mjs
  const adopted = path.join(dir, 'prefix', 'lib', 'node_modules', 'openclaw', 'openclaw.mjs');
  mkdirSync(path.dirname(adopted), { recursive: true });
  writeFileSync(adopted, '#!/usr/bin/env node\n');
  chmodSync(adopted, 0o755);
  const npmBin = path.join(dir, 'prefix', 'bin');
  mkdirSync(npmBin);
  symlinkSync('../lib/node_modules/openclaw/openclaw.mjs', path.join(npmBin, 'openclaw'));
  const env = { PATH: `${npmBin}:/usr/bin:/bin` };

  const stale = await commandsOnPath({ layout, env });
  expect(stale).toMatchObject({ name: 'commands-on-path', ok: false });
  expect(stale!.detail).toContain(`${path.join(npmBin, 'openclaw')} (runs ${adopted}, not ${ours})`);
  const fix = `ln -sfn ${ours} ${path.join(npmBin, 'openclaw')}`;
  expect(stale!.detail).toContain(`Fix: ${fix}`);

  execFileSync('sh', ['-c', fix]);
  expect(await commandsOnPath({ layout, env })).toMatchObject({ ok: true });
  // Ours first on PATH passes too; not on PATH at all is no failure.
  expect(await commandsOnPath({ layout, env: { PATH: `${path.dirname(ours)}:/usr/bin` } })).toMatchObject({ ok: true });
  expect(await commandsOnPath({ layout, env: { PATH: '/usr/bin:/bin' } })).toMatchObject({ ok: true });
});

it("names init --link-bin for a script adopt recorded (pnpm's shim on the role's PATH), which fixes it", async () => {
  const dir = tempDir();
  const layout = layoutOf(path.join(dir, 'root'));
  const ours = path.join(layout.root, 'bin', 'openclaw');
  mkdirSync(path.dirname(ours), { recursive: true });
  writeFileSync(ours, '#!/bin/sh\n', { mode: 0o755 });
  const shim = path.join(dir, 'pnpm', 'openclaw');
  mkdirSync(path.dirname(shim));
  writeFileSync(shim, '#!/bin/sh\nexec node "$basedir/global/5/node_modules/openclaw/openclaw.mjs" "$@"\n', {
    mode: 0o755,
  });
  await recordNpmLinks(layout.root, [{ name: 'openclaw', link: shim, ours, kind: 'script' }]);
  const env = { PATH: `${path.dirname(shim)}:/usr/bin:/bin` };

  const stale = await commandsOnPath({ layout, env });
  expect(stale).toMatchObject({ name: 'commands-on-path', ok: false });
  expect(stale!.detail).toContain(`Fix: release-switcher --root ${layout.root} init --link-bin`);
  await linkNpmBins(layout.root); // what init --link-bin does
  expect(await commandsOnPath({ layout, env })).toMatchObject({ ok: true });
});
