/** The environment a step that acts for the service (finalize, the restart handoff) runs the service's commands with. */
import { systemctl } from '../service/systemctl.js';
import type { Config } from '../store/config.js';
import { splitUnitWords } from '../unit-files/existing-unit.js';

/**
 * The environment the service runs with: ours, the unit's Environment= over it (its OPENCLAW_STATE_DIR, the
 * supervisor contract), then the preset's additions. HOME stays ours: we run as the service's user, and a unit's HOME
 * can name a home bound over another in the manager's namespace, which is not ours to write.
 */
export async function serviceEnvironment(
  config: Config,
  env: NodeJS.ProcessEnv,
  extra: Readonly<Record<string, string>>,
): Promise<NodeJS.ProcessEnv> {
  const unit: Record<string, string> = {};
  if ((config.supervisor === 'systemd' || config.supervisor === 'systemd-system') && config.unit) {
    const scope = config.supervisor === 'systemd' ? 'user' : 'system';
    const shown = await systemctl(['show', config.unit, '--property=Environment', '--value'], { scope, env });
    if (shown.exitCode === 0)
      for (const word of splitUnitWords(shown.output.trim()))
        if (word.includes('=')) unit[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1);
  }
  delete unit.HOME;
  return { ...env, ...unit, ...extra };
}
