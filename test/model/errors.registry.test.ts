// Errors are recognised by their brand, so a host that loads two copies of the library still tells them.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../../src/model/errors.ts';

const built = new URL('../../dist/model/errors.js', import.meta.url).href;

describe('isReleaseSwitcherError', () => {
  it('knows an error of another copy of the library, which instanceof does not', async () => {
    // Two URLs are two module instances: two ReleaseSwitcherError classes, as with two installed copies.
    const one = (await import(`${built}?copy=one`)) as typeof import('../../src/model/errors.ts');
    const two = (await import(`${built}?copy=two`)) as typeof import('../../src/model/errors.ts');
    expect(one.ReleaseSwitcherError).not.toBe(two.ReleaseSwitcherError);
    const error = new two.ReleaseSwitcherError('BUSY', 'held');
    expect(error instanceof one.ReleaseSwitcherError).toBe(false);
    expect(one.isReleaseSwitcherError(error)).toBe(true);
    expect(isReleaseSwitcherError(error)).toBe(true);
    expect(isReleaseSwitcherError(new one.ReleaseSwitcherError('USAGE', 'x'))).toBe(true);
  });

  it('says no to look-alikes: a plain Error with a code, null, a string', () => {
    expect(isReleaseSwitcherError(Object.assign(new Error('x'), { code: 'BUSY', name: 'ReleaseSwitcherError' }))).toBe(
      false,
    );
    expect(isReleaseSwitcherError(null)).toBe(false);
    expect(isReleaseSwitcherError('BUSY')).toBe(false);
    expect(isReleaseSwitcherError(new ReleaseSwitcherError('BUSY', 'held'))).toBe(true);
  });

  it('brands with a non-enumerable registered symbol (so spreading or inspecting an error does not show it)', () => {
    const error = new ReleaseSwitcherError('BUSY', 'held', { hint: 'wait' });
    expect(Object.getOwnPropertySymbols(error)).toContain(Symbol.for('release-switcher.error'));
    expect(
      Object.getOwnPropertySymbols(error).every((s) => !Object.getOwnPropertyDescriptor(error, s)?.enumerable),
    ).toBe(true);
  });

  it('holds across two Node module graphs too (the built file, loaded twice in one process)', () => {
    const script = `const a = await import(${JSON.stringify(`${built}?a`)}); const b = await import(${JSON.stringify(`${built}?b`)});
      const e = new b.ReleaseSwitcherError('BUSY', 'held'); console.log(JSON.stringify([e instanceof a.ReleaseSwitcherError, a.isReleaseSwitcherError(e)]));`;
    expect(
      JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })),
    ).toEqual([false, true]);
  });
});
