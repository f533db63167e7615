// config.json judged by its published schema, layout/config.schema.json (issue 34): an unknown key, a typo, was silently
// ignored; now it is INVALID_CONFIG naming the key, where it is and the known key it was likely meant to be. A wrong
// type or value names the field and what the schema wants. Every config the tool writes passes.
import { describe, expect, it } from 'vitest';
import { settingsFromFlags } from '../../src/cli/commands/init.ts';
import { type ReleaseSwitcherError, isReleaseSwitcherError } from '../../src/model/errors.ts';
import { emptyState } from '../../src/store/journal.ts';
import { defaultConfig, validateConfig } from '../../src/store/config.ts';
import { compileLayoutSchema } from '../../src/store/layout-schema.ts';
import { PRESETS } from '../../src/presets/index.ts';
import { schemaProblems } from '../../src/store/schema-problems.ts';
import { layoutProblems } from '../support/layout-schema.ts';

/** The error validateConfig throws for `changes` on an otherwise valid config. */
function refusal(changes: Record<string, unknown>): ReleaseSwitcherError {
  try {
    validateConfig({ ...defaultConfig('my-gateway'), ...changes }, 'config.json');
  } catch (error) {
    if (isReleaseSwitcherError(error)) return error;
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(changes)}`);
}

const seen = (error: ReleaseSwitcherError) => ({ code: error.code, message: error.message, hint: error.hint });

describe('an unknown key in config.json', () => {
  it.each([
    ['healthUrll', 'healthUrl', 'http://127.0.0.1:8080/health'],
    ['supervisr', 'supervisor', 'systemd'],
    ['statePath', 'statePaths', ['/srv/state']],
  ])('"%s" is INVALID_CONFIG naming it, its JSON pointer, and "%s" as the hint', (typo, meant, value) => {
    const error = refusal({ [typo]: value });
    expect(seen(error)).toEqual({
      code: 'INVALID_CONFIG',
      message: `config.json: unknown key "${typo}" at /${typo}.`,
      hint: `Did you mean "${meant}"? Rename or remove "${typo}" in config.json (its keys: docs/configuration.md).`,
    });
    expect(error.details).toEqual({
      problems: [
        {
          path: `/${typo}`,
          field: typo,
          message: `unknown key "${typo}" at /${typo}`,
          unknownKey: typo,
          suggestion: meant,
        },
      ],
    });
  });

  it('like no known key: refused without a guess', () => {
    expect(refusal({ colour: 'blue' }).hint).toBe(
      'Rename or remove "colour" in config.json (its keys: docs/configuration.md).',
    );
  });

  it('is named first, before the problems it may have caused, each of which is named too', () => {
    const error = refusal({ keep: '3', healthUrll: 'http://127.0.0.1:8080/health', supervisr: 'systemd' });
    expect(error.message).toBe(
      'config.json: unknown key "healthUrll" at /healthUrll. ' +
        'Also: unknown key "supervisr" at /supervisr; "keep" must be a number, not a string.',
    );
    expect(error.hint).toMatch(/^Did you mean "healthUrl"\?/);
  });

  it('of a config of another layout: the layout version is what is named', () => {
    expect(refusal({ layoutVersion: 2, rollbackWindow: 3 }).message).toBe(
      'config.json: "layoutVersion" is 2, this release-switcher reads 1.',
    );
  });

  it('nested inside an object is named by its pointer, the guess taken from the keys at its level', () => {
    // config.json's only objects are maps (preflightEnv) or free (preflightConfig); state.json's nest closed ones.
    const { validate } = compileLayoutSchema('state');
    const release = { version: '1.0.0', state: 'good', pinned: false, installedAt: '2026-01-01T00:00:00.000Z' };
    const state = {
      ...emptyState(),
      releases: { '1.0.0': { ...release, integrity: null, source: 'a.tgz', pinnd: 1 } },
    };
    expect(validate(state)).toBe(false);
    expect(schemaProblems(validate.errors ?? [])).toEqual([
      {
        path: '/releases/1.0.0/pinnd',
        field: 'releases',
        message: 'unknown key "pinnd" at /releases/1.0.0/pinnd',
        unknownKey: 'pinnd',
        suggestion: 'pinned',
      },
    ]);
  });
});

describe('a wrong type or value in config.json', () => {
  it.each([
    [{ keep: '3' }, '"keep" must be a number, not a string', 'keep'],
    [{ registry: 5 }, '"registry" must be a string or null, not a number', 'registry'],
    [{ statePaths: '/srv/state' }, '"statePaths" must be a list, not a string', 'state-paths'],
    [{ rolloutPercent: 101 }, '"rolloutPercent" must be ≤ 100, not 101', 'rollout-percent'],
    [{ stableFor: -1 }, '"stableFor" must be ≥ 0, not -1', 'stable-for'],
    [
      { verifySignatures: 'sometimes' },
      '"verifySignatures" must be one of "auto", "always", "never", not "sometimes"',
      'verify-signatures',
    ],
    [{ smoke: ['server.js', 1] }, '"smoke" at /smoke/1 must be a string, not a number', 'smoke'],
    [
      { preflightEnv: { PORT: 8080 } },
      '"preflightEnv" at /preflightEnv/PORT must be a string, not a number',
      'preflight-env',
    ],
  ])('%j: %s', (changes, said, flag) => {
    expect(seen(refusal(changes))).toEqual({
      code: 'INVALID_CONFIG',
      message: `config.json: ${said}.`,
      hint: `Fix it with: release-switcher init --${flag} …`,
    });
  });

  it('what the schema cannot say is still checked: URLs, variable names, what a preflight needs', () => {
    expect(refusal({ healthUrl: 'not a url' }).message).toBe('config.json: "healthUrl" must be a URL.');
    expect(refusal({ preflightEnv: { '1X': 'a' } }).message).toBe(
      'config.json: "preflightEnv" 1X: must be NAME=VALUE with a valid variable name.',
    );
    expect(refusal({ preflight: [] }).message).toBe('config.json: "preflight" must be a non-empty list of arguments.');
    expect(refusal({ preflight: ['server.js'] }).message).toMatch(/"preflight" needs --health-url/);
  });
});

describe('every config the tool writes passes the schema', () => {
  it('the defaults, every init flag given, and the openclaw preset', () => {
    const everyFlag = settingsFromFlags({
      package: 'my-gateway',
      registry: 'http://127.0.0.1:4873/',
      supervisor: 'systemd-system',
      unit: 'gw.service',
      'health-url': 'http://127.0.0.1:8080/health',
      'version-field': 'build.version',
      'verify-timeout': '30',
      'stable-for': '2',
      keep: '5',
      node: '/usr/bin/node',
      npm: '/usr/bin/npm',
      smoke: 'server.js --version',
      'state-path': ['/srv/state'],
      'independent-path': ['/srv/state/workspace'],
      preflight: 'server.js --port {port}',
      'preflight-env': ['PORT={port}', 'HOME={state}'],
      'preflight-prepare': 'prepare.js {state}',
      'preflight-config': '{"port":"{port}"}',
      'preflight-for': '3',
      'schema-field': 'app.schemaVersions',
      channel: 'beta',
      'cooldown-hours': '1.5',
      'rollout-percent': '50',
      'host-id': 'host-1',
      'service-user': 'gateway',
      'verify-signatures': 'always',
      readiness: 'require',
    });
    // Every setting a flag sets is given, but --preset: the openclaw case below.
    expect(Object.entries(everyFlag).flatMap(([key, value]) => (value === undefined ? [key] : []))).toEqual(['preset']);
    const openclaw = { ...PRESETS.openclaw!.settings, preset: 'openclaw', node: '/opt/node24/bin/node' };
    for (const settings of [{}, everyFlag, openclaw]) {
      // As init merges them: a setting not given (undefined) leaves the default.
      const given = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
      const written = { ...defaultConfig('my-gateway'), ...given };
      expect(layoutProblems('config', written)).toEqual([]);
      expect(validateConfig(written, 'config.json')).toEqual(written);
    }
  });
});
