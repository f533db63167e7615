// A preset is reached through presets/index.ts and the fields of presets/types.ts only (check-layers, npm run lint):
// the core names no preset's command, file or protocol. The rule is checked against what it must catch and what it
// must let through, and against src/ as it is.
import { describe, expect, it } from 'vitest';
import { presetReach, problems } from '../../scripts/check-layers.mjs';

describe("a preset's folder", () => {
  it.each([
    ['transaction/finalize-step.ts', 'presets/openclaw/plugin-prefetch.ts'],
    ['unit-files/service-port.ts', 'presets/openclaw/config-file.ts'],
    ['presets/types.ts', 'presets/openclaw/index.ts'],
    ['presets/node-http/index.ts', 'presets/openclaw/config-file.ts'],
  ])('is not reached from outside it: %s → %s', (from, to) => {
    expect(presetReach(from, to)).toContain("a preset's folder is reached through presets/index.ts");
  });

  it.each([
    ['presets/index.ts', 'presets/openclaw/index.ts'],
    ['presets/openclaw/index.ts', 'presets/openclaw/restart-handoff.ts'],
    ['transaction/restart-handoff-step.ts', 'presets/index.ts'],
    ['unit-files/service-port.ts', 'presets/types.ts'],
    ['transaction/activate.ts', 'transaction/steps.ts'],
  ])('is reached through the list and the types: %s → %s', (from, to) => {
    expect(presetReach(from, to)).toBeUndefined();
  });

  it('src/ keeps to it', () => {
    expect(problems.filter((p: string) => p.includes("a preset's folder"))).toEqual([]);
  });
});
