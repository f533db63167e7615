// The flip: rename of a temp symlink, so a reader never sees the link missing.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flipSymlink } from '../../src/store/links.ts';
import { tempDir } from '../support/cli.ts';

describe('flipSymlink', () => {
  it('replaces the link atomically: a concurrent reader never finds it missing', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'releases/a'), { recursive: true });
    mkdirSync(join(dir, 'releases/b'), { recursive: true });
    const link = join(dir, 'current');
    await flipSymlink(link, 'releases/a');
    // A separate process reads the link in a tight loop while we flip it 300 times.
    const reader = spawn(process.execPath, [
      '-e',
      `
      const fs = require('fs'); let misses = 0, reads = 0;
      const end = Date.now() + 1500;
      while (Date.now() < end) { try { fs.readlinkSync(${JSON.stringify(link)}); reads++; } catch { misses++; } }
      process.stdout.write(JSON.stringify({ misses, reads }));`,
    ]);
    let out = '';
    reader.stdout.on('data', (d) => (out += d));
    let running = true;
    const done = new Promise((resolve) => reader.on('exit', resolve)).then(() => (running = false));
    let flips = 0;
    while (running) await flipSymlink(link, flips++ % 2 ? 'releases/a' : 'releases/b');
    await done;
    const { misses, reads } = JSON.parse(out);
    expect(flips).toBeGreaterThan(100);
    expect(reads).toBeGreaterThan(1000);
    expect(misses).toBe(0);
    expect(readlinkSync(link)).toBe(flips % 2 ? 'releases/b' : 'releases/a');
    expect(readdirSync(dir).sort()).toEqual(['current', 'releases']); // no temp links left
  });
});
