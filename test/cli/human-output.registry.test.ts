// What people read: the list table with sizes after dedupe, and status as a short story.
import { describe, expect, it } from 'vitest';
import { cli, rs, templateRoot } from '../support/cli.ts';

const freshRoot = templateRoot(['1.0.0', '1.1.0']);

describe('human output', () => {
  it('list is a table: version, state, marks, when, size on disk with shared bytes', async () => {
    const root = freshRoot();
    expect((await rs(root, ['switch', '1.1.0'])).exitCode).toBe(0);
    expect((await rs(root, ['pin', '1.0.0'])).exitCode).toBe(0);
    const r = await cli(['--root', root, 'list']);
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^\s+VERSION\s+STATE\s+MARKS\s+INSTALLED \(UTC\)\s+ON DISK$/);
    expect(rows[0]).toMatch(
      /^\* 1\.1\.0\s+pending\s+current\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+[\d.]+ KiB \+ [\d.]+ KiB shared$/,
    );
    expect(rows[1]).toMatch(/^ {2}1\.0\.0\s+pending\s+previous, pinned\s+/);
    expect(r.stderr).toBe('');
  });

  it('status tells what runs, what happened last and why', async () => {
    const root = freshRoot();
    await rs(root, ['switch', '1.1.0']);
    const r = await cli(['--root', root, 'status']);
    expect(r.stdout).toMatch(
      /^Running 1\.1\.0; previous 1\.0\.0 is the rollback target\.\nLast: switch 1\.0\.0 → 1\.1\.0 flipped current in [\d.]+ s; restarting the service is the operator's job\./,
    );
  });
});
