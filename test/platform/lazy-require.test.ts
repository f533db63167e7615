// A deferred CommonJS module: whoever requires it gets a stand-in, and the real module is loaded only when
// something of it is used (a property, a key listing, a call), then everything is the real module's.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { deferModule, isLoaded } from '../../src/platform/lazy-require.ts';

const loads = globalThis as { lazyRequireLoads?: Record<string, number> };

/** A CommonJS module in a fresh folder that counts its own loads; its file. */
function moduleFile(name: string, exportsSource: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rs-lazy-require-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, `${name}.cjs`);
  writeFileSync(
    file,
    `globalThis.lazyRequireLoads = globalThis.lazyRequireLoads || {};\n` +
      `globalThis.lazyRequireLoads[${JSON.stringify(name)}] = (globalThis.lazyRequireLoads[${JSON.stringify(name)}] || 0) + 1;\n` +
      `module.exports = ${exportsSource};\n`,
  );
  return file;
}

const loadsOf = (name: string) => loads.lazyRequireLoads?.[name] ?? 0;

describe('deferModule', () => {
  it('an object module is loaded at its first property read, once, and answers as itself', () => {
    const file = moduleFile('object', `{ greet: (who) => 'hello ' + who, answer: 42 }`);
    expect(deferModule(file, 'object')).toBe(true);
    const required = createRequire(file)(file) as { greet(who: string): string; answer: number };
    expect(loadsOf('object')).toBe(0);
    expect(isLoaded(file)).toBe(false);
    expect(typeof required).toBe('object');
    expect(required.greet('you')).toBe('hello you');
    expect(loadsOf('object')).toBe(1);
    expect(isLoaded(file)).toBe(true);
    expect(required.answer).toBe(42);
    expect(Object.keys(required).sort()).toEqual(['answer', 'greet']);
    expect('greet' in required).toBe(true);
    // The real module is now what require gives, and it was loaded once.
    expect(createRequire(file)(file)).toEqual({ greet: expect.any(Function), answer: 42 });
    expect(loadsOf('object')).toBe(1);
  });

  it('a function module is loaded at its first call and keeps its properties', () => {
    const file = moduleFile('function', `Object.assign(function twice(x) { return 2 * x }, { extra: 3 })`);
    deferModule(file, 'function');
    const required = createRequire(file)(file) as ((x: number) => number) & { extra: number };
    expect(loadsOf('function')).toBe(0);
    expect(required(21)).toBe(42);
    expect(loadsOf('function')).toBe(1);
    expect(required.extra).toBe(3);
    expect(required.name).toBe('twice');
  });

  it('a module loaded already keeps its real exports', () => {
    const file = moduleFile('early', `{ value: 1 }`);
    const real = createRequire(file)(file);
    expect(deferModule(file, 'object')).toBe(false);
    expect(createRequire(file)(file)).toBe(real);
    expect(loadsOf('early')).toBe(1);
  });
});
