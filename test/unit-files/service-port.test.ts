// The port a unit's service listens on, in the service's own order: argument > environment > its config file.
// The openclaw cases follow openclaw 2026.9.5's dist (resolveConfigPathCandidate, resolveGatewayPort).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseUnitText } from '../../src/unit-files/existing-unit.ts';
import { findServicePort, parseEnvironmentFile, parsePortValue } from '../../src/unit-files/service-port.ts';
import { PRESETS } from '../../src/presets/index.ts';
import { openclawConfigFile } from '../../src/presets/openclaw/config-file.ts';
import { tempDir } from '../support/cli.ts';

const OPENCLAW = PRESETS.openclaw!.port!;
const PKG = '/usr/lib/node_modules/openclaw';

function unitText(lines: string[]): string {
  return ['# /u/.config/systemd/user/openclaw-gateway.service', '[Service]', ...lines, ''].join('\n');
}
function write(file: string, text: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}
/** A config the way a person writes it by hand: JSON5, with a comment and trailing commas. */
const json5Config = (port: number) => `// my gateway\n{\n  gateway: { mode: 'local', port: ${port}, },\n}\n`;

describe('the port of an openclaw unit', () => {
  it('reads gateway.port of ~/.openclaw/openclaw.json (JSON5) when neither the arguments nor the environment name one', async () => {
    const home = tempDir('rs-port-home-');
    const file = write(path.join(home, '.openclaw', 'openclaw.json'), json5Config(18931));
    const unit = parseUnitText(
      unitText([
        `ExecStart=/n/node --max-old-space-size=8192 ${PKG}/dist/index.js gateway`,
        `Environment=HOME=${home}`,
      ]),
    );
    expect(await findServicePort(unit, OPENCLAW, { HOME: '/elsewhere' })).toEqual({
      port: { port: 18931, from: `config ${file} gateway.port` },
      notes: [],
    });
  });

  it("applies openclaw's precedence: --port, then OPENCLAW_GATEWAY_PORT, then the config; PORT means nothing to it", async () => {
    const home = tempDir('rs-port-home-');
    write(path.join(home, '.openclaw', 'openclaw.json'), json5Config(18931));
    const env = { HOME: home };
    const withArg = parseUnitText(
      unitText([
        `ExecStart=/n/node ${PKG}/dist/index.js gateway --port 19002`,
        'Environment=OPENCLAW_GATEWAY_PORT=19003',
      ]),
    );
    expect((await findServicePort(withArg, OPENCLAW, env)).port).toEqual({
      port: 19002,
      from: 'ExecStart --port 19002',
    });
    const withEnv = parseUnitText(
      unitText([`ExecStart=/n/node ${PKG}/dist/index.js gateway`, 'Environment=OPENCLAW_GATEWAY_PORT=127.0.0.1:19003']),
    );
    expect((await findServicePort(withEnv, OPENCLAW, env)).port).toEqual({
      port: 19003,
      from: 'Environment=OPENCLAW_GATEWAY_PORT=127.0.0.1:19003',
    });
    const withPort = parseUnitText(
      unitText([`ExecStart=/n/node ${PKG}/dist/index.js gateway`, 'Environment=PORT=19004']),
    );
    expect((await findServicePort(withPort, OPENCLAW, env)).port?.port).toBe(18931);
  });

  it("reads the unit's EnvironmentFile= (over Environment=) for the port and for OPENCLAW_STATE_DIR", async () => {
    const dir = tempDir('rs-port-envfile-');
    const state = path.join(dir, 'state');
    const file = write(path.join(state, 'openclaw.json'), json5Config(19010));
    const envFile = write(path.join(dir, 'gateway.systemd.env'), `# generated\nOPENCLAW_STATE_DIR="${state}"\n`);
    const unit = parseUnitText(
      unitText([
        `ExecStart=/n/node ${PKG}/dist/index.js gateway`,
        `Environment=OPENCLAW_STATE_DIR=${dir}/nowhere`,
        `EnvironmentFile=-${envFile}`,
        `EnvironmentFile=-${dir}/missing.env`,
      ]),
    );
    expect(await findServicePort(unit, OPENCLAW, { HOME: dir })).toEqual({
      port: { port: 19010, from: `config ${file} gateway.port` },
      notes: [],
    });
    write(envFile, 'OPENCLAW_GATEWAY_PORT=19011\n');
    expect((await findServicePort(unit, OPENCLAW, { HOME: dir })).port).toEqual({
      port: 19011,
      from: `EnvironmentFile=${envFile}: OPENCLAW_GATEWAY_PORT=19011`,
    });
  });

  it('finds the config where openclaw does: OPENCLAW_CONFIG_PATH alone, else the state dir, else ~/.openclaw, then the legacy names', async () => {
    const home = tempDir('rs-port-home-');
    const main = write(path.join(home, '.openclaw', 'openclaw.json'), '{}');
    expect(await openclawConfigFile({ HOME: home })).toBe(main);
    // OPENCLAW_CONFIG_PATH is the only place looked at, even when it does not exist.
    expect(await openclawConfigFile({ HOME: home, OPENCLAW_CONFIG_PATH: '~/custom.json' })).toBeNull();
    const custom = write(path.join(home, 'custom.json'), '{}');
    expect(await openclawConfigFile({ HOME: home, OPENCLAW_CONFIG_PATH: '~/custom.json' })).toBe(custom);
    // A state dir without a config falls through to the default one.
    expect(await openclawConfigFile({ HOME: home, OPENCLAW_STATE_DIR: '~/state' })).toBe(main);
    const legacy = write(path.join(home, 'state', 'clawdbot.json'), '{}');
    expect(await openclawConfigFile({ HOME: home, OPENCLAW_STATE_DIR: '~/state' })).toBe(legacy);
    // OPENCLAW_HOME replaces HOME (and may itself start with ~).
    const other = write(path.join(home, 'oc-home', '.openclaw', 'openclaw.json'), '{}');
    expect(await openclawConfigFile({ HOME: home, OPENCLAW_HOME: '~/oc-home' })).toBe(other);
    expect(await openclawConfigFile({ HOME: tempDir('rs-port-empty-') })).toBeNull();
  });

  it('says why a config gave no port; the service default then applies', async () => {
    const home = tempDir('rs-port-home-');
    const file = write(path.join(home, '.openclaw', 'openclaw.json'), '{ gateway: { port: "${GW_PORT}" } }');
    const unit = parseUnitText(unitText([`ExecStart=/n/node ${PKG}/dist/index.js gateway`]));
    expect(await findServicePort(unit, OPENCLAW, { HOME: home })).toEqual({
      port: null,
      notes: [`config ${file} gateway.port is "\${GW_PORT}", not a port`],
    });
    write(file, '{ gateway: { port: 1 ');
    const broken = await findServicePort(unit, OPENCLAW, { HOME: home });
    expect(broken.port).toBeNull();
    expect(broken.notes[0]).toMatch(new RegExp(`^config ${file} not read: JSON5`));
    write(file, '{ "$include": "./gateway.json5" }');
    expect((await findServicePort(unit, OPENCLAW, { HOME: home })).notes).toEqual([
      `config ${file} has no gateway.port of its own and uses $include, which is not followed`,
    ]);
  });

  it('reads port values and environment files as their owners do', () => {
    expect(['19001', '127.0.0.1:19002', '[::1]:19003', 'a:b:19004', '0', '70000', 'x'].map(parsePortValue)).toEqual([
      19001,
      19002,
      19003,
      null,
      null,
      null,
      null,
    ]);
    expect(parseEnvironmentFile('# c\n; c\nA=1\nexport B = "two \\"q\\""\nC=\'x y\'\nbad\n')).toEqual({
      A: '1',
      B: 'two "q"',
      C: 'x y',
    });
  });
});
