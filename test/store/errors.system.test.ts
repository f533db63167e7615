// Bad input gets a stable code, a hint, the contract's exit code, `current` untouched and no staging left.
import { execFileSync } from 'node:child_process';
import { describeWhere } from '../support/skip.ts';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { execa } from 'execa';
import { type CliResult, cli, rs, tempDir, templateRoot } from '../support/cli.ts';
import { startFaultRegistry, type FaultMode } from '../support/fault-registry.ts';
import { linkOf, releaseDirs, stagingEntries } from '../support/root.ts';

const isRoot = process.getuid?.() === 0;

const copyOfTemplate = templateRoot(['1.0.0']);

/** Re-point the copy at another package name (the bad tarballs each have their own). */
async function managing(root: string, name: string, registry?: string): Promise<void> {
  const config = JSON.parse(execFileSync('cat', [join(root, 'config.json')], { encoding: 'utf8' }));
  writeFileSync(
    join(root, 'config.json'),
    JSON.stringify({ ...config, package: name, ...(registry ? { registry } : {}) }),
  );
}

async function expectCleanFailure(
  root: string,
  args: string[],
  code: string,
  exitCode = 1,
  current: string | null = 'releases/1.0.0',
): Promise<CliResult> {
  const before = releaseDirs(root);
  const r = await rs(root, args);
  expect(r.json?.ok, r.stdout + r.stderr).toBe(false);
  expect(r.json.error.code).toBe(code);
  expect(r.json.error.hint, 'every error carries a hint').toBeTruthy();
  expect(r.exitCode).toBe(exitCode);
  expect(linkOf(root, 'current')).toBe(current);
  expect(stagingEntries(root)).toEqual([]);
  expect(releaseDirs(root)).toEqual(before);
  return r;
}

/** A new, empty root for another package (the bad tarballs and the engines fixture are all 1.0.0). */
async function emptyRoot(name: string): Promise<string> {
  const root = join(tempDir('rs-err-'), 'root');
  expect((await rs(root, ['init', '--package', name, '--registry', inject('registryUrl')])).exitCode).toBe(0);
  return root;
}

async function faultRegistry(mode: FaultMode) {
  const pkg = inject('fixtures').packages.find((p) => p.name === 'rs-fixture-gateway' && p.version === '1.1.0')!;
  const registry = await startFaultRegistry({ tarball: pkg.tarball, name: pkg.name, version: pkg.version, mode });
  onTestFinished(() => registry.close());
  return registry;
}

describe('bad input', () => {
  it('unknown version → VERSION_NOT_FOUND', async () => {
    await expectCleanFailure(copyOfTemplate(), ['install', 'rs-fixture-gateway@9.9.9'], 'VERSION_NOT_FOUND');
  });

  it('missing package → PACKAGE_NOT_FOUND', async () => {
    const root = copyOfTemplate();
    await managing(root, 'rs-no-such-package');
    await expectCleanFailure(root, ['install', 'rs-no-such-package@1.0.0'], 'PACKAGE_NOT_FOUND');
  });

  it('garbage spec → INVALID_SPEC', async () => {
    await expectCleanFailure(copyOfTemplate(), ['install', 'rs-fixture-gateway@!!not a spec!!'], 'INVALID_SPEC');
    await expectCleanFailure(copyOfTemplate(), ['install', 'git+ssh://example.invalid/x.git'], 'INVALID_SPEC');
  });

  it('another package than the root manages → WRONG_PACKAGE', async () => {
    await expectCleanFailure(copyOfTemplate(), ['install', 'rs-fixture-dep@1.0.0'], 'WRONG_PACKAGE');
  });

  it('integrity mismatch from the registry → INTEGRITY_MISMATCH', async () => {
    const root = copyOfTemplate();
    const registry = await faultRegistry('wrong-integrity');
    await managing(root, 'rs-fixture-gateway', registry.url);
    await expectCleanFailure(root, ['install', 'rs-fixture-gateway@1.1.0'], 'INTEGRITY_MISMATCH');
  });

  it('truncated download → a fetch or tarball error', async () => {
    const root = copyOfTemplate();
    const registry = await faultRegistry('truncated');
    await managing(root, 'rs-fixture-gateway', registry.url);
    const r = await rs(root, ['install', 'rs-fixture-gateway@1.1.0']);
    expect(['FETCH_FAILED', 'BAD_TARBALL', 'INTEGRITY_MISMATCH']).toContain(r.json.error.code);
    expect(r.exitCode).toBe(1);
    expect(stagingEntries(root)).toEqual([]);
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
  });

  it('registry answering 500 → FETCH_FAILED', async () => {
    const root = copyOfTemplate();
    const registry = await faultRegistry('status-500');
    await managing(root, 'rs-fixture-gateway', registry.url);
    await expectCleanFailure(root, ['install', 'rs-fixture-gateway@1.1.0', '--json'], 'FETCH_FAILED');
  });

  it('a registry whose TLS certificate is not trusted → FETCH_FAILED, with the CA in the hint', async () => {
    // A self-signed certificate for 127.0.0.1, as a TLS-intercepting proxy without its CA installed presents.
    const dir = tempDir('rs-err-tls-');
    const openssl = await execa(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { reject: false },
    );
    expect(openssl.exitCode, openssl.stderr).toBe(0);
    const tls = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
    const pkg = inject('fixtures').packages.find((p) => p.name === 'rs-fixture-gateway' && p.version === '1.1.0')!;
    const registry = await startFaultRegistry({
      tarball: pkg.tarball,
      name: pkg.name,
      version: pkg.version,
      mode: 'ok',
      tls,
    });
    onTestFinished(() => registry.close());
    // Both first requests a lookup can make: the registry's signing keys, and the packument itself.
    for (const verify of ['auto', 'never']) {
      const root = copyOfTemplate();
      await managing(root, 'rs-fixture-gateway', registry.url);
      const r = await expectCleanFailure(
        root,
        ['install', 'rs-fixture-gateway@1.1.0', '--verify-signatures', verify],
        'FETCH_FAILED',
      );
      expect(r.json.error.message).toMatch(
        /certificate is not trusted.*(SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT)/,
      );
      expect(r.json.error.hint).toContain('NODE_EXTRA_CA_CERTS');
    }
    expect(registry.requests).toEqual([]); // no request got past the handshake
  });

  it('truncated local tarball → BAD_TARBALL', async () => {
    await expectCleanFailure(
      copyOfTemplate(),
      ['install', inject('fixtures').tarballs['bad-truncated']!],
      'BAD_TARBALL',
    );
  });

  it.each([
    ['bad-dotdot', 'BAD_TARBALL'],
    ['bad-abs-symlink', 'BAD_TARBALL'],
    ['bad-escape-symlink', 'BAD_TARBALL'],
    ['bad-device', 'BAD_TARBALL'],
    ['bad-setuid', 'BAD_TARBALL'],
    ['bad-invalid-package-json', 'BAD_PACKAGE_JSON'],
    ['bad-no-package-json', 'BAD_PACKAGE_JSON'],
  ])('malicious or broken tarball %s → %s', async (name, code) => {
    // The broken ones have no readable name; those with a package.json are named after their fault.
    const root = await emptyRoot(name.includes('package-json') ? 'rs-fixture-gateway' : name);
    const tarball = inject('fixtures').tarballs[name]!;
    await expectCleanFailure(root, ['install', tarball], code, 1, null);
    expect(releaseDirs(root).some((d) => d.startsWith('..') || d === 'escape.txt')).toBe(false);
  });

  it('engines.node excluding the configured Node → ENGINE_MISMATCH', async () => {
    const root = await emptyRoot('rs-fixture-engines');
    await expectCleanFailure(root, ['install', 'rs-fixture-engines@1.0.0'], 'ENGINE_MISMATCH', 1, null);
  });

  it('a --node that does not run → NODE_NOT_FOUND', async () => {
    const root = copyOfTemplate();
    expect((await rs(root, ['init', '--node', '/nonexistent/node'])).exitCode).toBe(0);
    await expectCleanFailure(root, ['install', 'rs-fixture-gateway@1.1.0'], 'NODE_NOT_FOUND');
  });

  it('corrupt state.json → CORRUPT_STATE, exit 4, file left for a human', async () => {
    const root = copyOfTemplate();
    writeFileSync(join(root, 'state.json'), '{"layoutVersion": 1, "releases": ');
    await expectCleanFailure(root, ['install', 'rs-fixture-gateway@1.1.0'], 'CORRUPT_STATE', 4);
    await expectCleanFailure(root, ['switch', '1.0.0'], 'CORRUPT_STATE', 4);
    expect((await rs(root, ['status'])).json.error.code).toBe('CORRUPT_STATE');
  });

  it('`current` that is a plain directory → INCONSISTENT_ROOT, exit 4, left as it is', async () => {
    const root = copyOfTemplate();
    rmSync(join(root, 'current'));
    mkdirSync(join(root, 'current'));
    const r = await rs(root, ['switch', '1.0.0']);
    expect(r.json.error.code).toBe('INCONSISTENT_ROOT');
    expect(r.exitCode).toBe(4);
    expect(r.json.error.hint).toMatch(/mv /);
    expect(linkOf(root, 'current')).toBeNull(); // still the directory we made
  });

  it('switch to a version that is not installed → RELEASE_NOT_FOUND', async () => {
    await expectCleanFailure(copyOfTemplate(), ['switch', '7.7.7'], 'RELEASE_NOT_FOUND');
  });

  it('not a root → NOT_INITIALIZED; unknown command or flag → exit 2 with a suggestion', async () => {
    const empty = tempDir();
    const r = await rs(empty, ['list']);
    expect([r.exitCode, r.json.error.code]).toEqual([1, 'NOT_INITIALIZED']);
    const typo = await cli(['--root', empty, 'instal', 'x']);
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toMatch(/Did you mean "release-switcher install"/);
    const flag = await cli(['--root', empty, 'prune', '--kep', '2']);
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr).toMatch(/--keep/);
  });

  describeWhere({ ok: isRoot, why: 'not root: it mounts a small tmpfs' }, 'disk full', () => {
    it('ENOSPC while staging → DISK_FULL, nothing left behind', async () => {
      const mount = tempDir('rs-enospc-');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', mount]);
      onTestFinished(() => execFileSync('umount', ['-l', mount]));
      const root = join(mount, 'root');
      const init = await rs(root, ['init', '--package', 'rs-fixture-gateway', '--registry', inject('registryUrl')]);
      expect(init.exitCode).toBe(0);
      // Fill the disk so that the next release cannot fit, leaving room for the journal.
      writeFileSync(join(mount, 'filler'), Buffer.alloc(60 * 1024));
      const r = await rs(root, ['install', 'rs-fixture-gateway@1.0.0']);
      expect(r.json?.error?.code, r.stdout + r.stderr).toBe('DISK_FULL');
      expect(r.exitCode).toBe(1);
      expect(stagingEntries(root)).toEqual([]);
      expect(releaseDirs(root)).toEqual([]);
    });

    it('ENOSPC at the journal write → DISK_FULL without a stack, the last state.json intact', async () => {
      const mount = tempDir('rs-enospc-');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', mount]);
      onTestFinished(() => execFileSync('umount', ['-l', mount]));
      const root = join(mount, 'root');
      const init = await rs(root, ['init', '--package', 'rs-fixture-gateway', '--registry', inject('registryUrl')]);
      expect(init.exitCode).toBe(0);
      const journal = join(root, 'state.json');
      const before = existsSync(journal) ? readFileSync(journal, 'utf8') : null;
      // Fill every last block: the first thing install writes is the journal's record of the operation.
      const filler = openSync(join(mount, 'filler'), 'w');
      try {
        for (;;) writeSync(filler, Buffer.alloc(1024));
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(filler);
      }
      const r = await rs(root, ['install', 'rs-fixture-gateway@1.0.0']);
      expect(r.json?.error?.code, r.stdout + r.stderr).toBe('DISK_FULL');
      expect(r.json.error.message).toMatch(/journal|writing/);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(existsSync(journal) ? readFileSync(journal, 'utf8') : null).toBe(before);
      expect(releaseDirs(root)).toEqual([]);
    });
  });
});
