// Doctor's health check judges an answer of the health URL by verification's rule (service/health.ts `notStarted`):
// for openclaw's /startupz a 2xx must also say `status: "started"`, as after a flip and in the rehearsal.
import { describe, expect, it } from 'vitest';
import { healthVerdict } from '../../src/doctor/service.ts';

const STARTUPZ = 'http://127.0.0.1:18789/startupz';
const openclaw = {
  preset: 'openclaw',
  package: 'openclaw',
  healthUrl: STARTUPZ,
  versionField: 'version',
  current: '2026.9.5',
};

describe('doctor: healthVerdict', () => {
  it('a 2xx of /startupz without status started is not healthy, saying what it said', () => {
    for (const [body, said] of [
      [{ ok: true, status: 'starting', version: '2026.9.5' }, '"starting"'],
      [{ ok: true, version: '2026.9.5' }, '(none)'],
    ] as const)
      expect(healthVerdict(STARTUPZ, { status: 200, body }, openclaw)).toEqual({
        name: 'health',
        ok: false,
        detail: `${STARTUPZ} answered 200 with status ${said}, not "started"`,
      });
  });

  it('started with the current version is healthy; another version, or a non-2xx, is not', () => {
    const started = (version: string) => ({ ok: true, status: 'started', version });
    expect(healthVerdict(STARTUPZ, { status: 200, body: started('2026.9.5') }, openclaw)).toMatchObject({ ok: true });
    expect(healthVerdict(STARTUPZ, { status: 200, body: started('2026.9.6') }, openclaw)).toMatchObject({
      ok: false,
      detail: `${STARTUPZ} reports version 2026.9.6, but current is 2026.9.5`,
    });
    expect(healthVerdict(STARTUPZ, { status: 503, body: { status: 'starting' } }, openclaw)).toMatchObject({
      ok: false,
      detail: `${STARTUPZ} answered 503`,
    });
  });

  it('asks nothing of the body where the contract does not name the URL (another path, another service)', () => {
    const body = { status: 'ok', version: '1.0.0' };
    const other = { ...openclaw, current: '1.0.0' };
    const healthz = 'http://127.0.0.1:18789/healthz';
    expect(healthVerdict(healthz, { status: 200, body }, { ...other, healthUrl: healthz })).toMatchObject({ ok: true });
    const mine = { ...other, preset: null, package: 'my-service' };
    expect(healthVerdict(STARTUPZ, { status: 200, body }, mine)).toMatchObject({ ok: true });
  });
});
