// npm's environment for the full install and the lifecycle scripts (scriptEnv): npm's shape of the caller's, never
// its other variables, but what npm needs to reach the registry the way release-switcher itself does: the proxies
// and the CA Node is told to trust (NODE_EXTRA_CA_CERTS, behind a TLS proxy).
import { describe, expect, it } from 'vitest';
import { scriptEnv } from '../../../src/stage/scripts/dep-scripts.ts';

describe('scriptEnv', () => {
  it("passes the proxies and NODE_EXTRA_CA_CERTS, not the caller's other variables; npm's settings without credentials", () => {
    const env = scriptEnv(
      {
        PATH: '/usr/bin:/bin',
        HOME: '/home/op',
        HTTPS_PROXY: 'http://proxy:3128',
        NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/corp-ca.pem',
        NODE_OPTIONS: '--require /tmp/hook.js',
        SECRET_TOKEN: 'x',
      },
      {
        nodePath: '/opt/node/bin/node',
        npmConfig: { registry: 'https://r.example/', '//r.example/:_authToken': 't' },
        npmCache: '/c',
      },
    );
    expect(env).toEqual({
      HOME: '/home/op',
      HTTPS_PROXY: 'http://proxy:3128',
      NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/corp-ca.pem',
      PATH: '/opt/node/bin:/usr/bin:/bin',
      npm_config_registry: 'https://r.example/',
      npm_config_cache: '/c',
      npm_config_global: 'true',
      npm_node_execpath: '/opt/node/bin/node',
      NODE: '/opt/node/bin/node',
    });
  });
});
