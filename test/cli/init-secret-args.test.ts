// The rehearsal's `{token}` never goes on a command line (every user of the host reads /proc/<pid>/cmdline): `init`
// refuses it in the ARGS of the candidate and of its prepare step, with a hint to the environment or the private
// config file, where it stays allowed.
import { describe, expect, it } from 'vitest';
import { settingsFromFlags } from '../../src/cli/commands/init.ts';

describe('init: {token} in ARGS', () => {
  it.each(['preflight', 'preflight-prepare'])('is refused in --%s (USAGE, with the way that works)', (flag) => {
    expect(() => settingsFromFlags({ [flag]: 'server.js --token {token}' })).toThrow(
      expect.objectContaining({ code: 'USAGE', hint: expect.stringContaining('--preflight-env TOKEN={token}') }),
    );
  });

  it('is taken in the environment and the config file; ARGS without it as before', () => {
    const settings = settingsFromFlags({
      preflight: 'server.js --port {port}',
      'preflight-env': ['TOKEN={token}'],
      'preflight-config': '{"auth":{"token":"{token}"}}',
    });
    expect(settings.preflight).toEqual(['server.js', '--port', '{port}']);
    expect(settings.preflightEnv).toEqual({ TOKEN: '{token}' });
    expect(settings.preflightConfig).toEqual({ auth: { token: '{token}' } });
  });
});
