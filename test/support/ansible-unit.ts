// OpenClaw's official Ansible role (public repo openclaw/openclaw-ansible), as read at commit
// 59ea8a077be7450713cac5f0e4db7eef08e981c3 (2026-07-28, "fix(deps): update ansible-core security pin (#56)"):
// its system unit template `roles/openclaw/templates/openclaw-host.service.j2` and the sudoers file that
// `roles/openclaw/tasks/user.yml` writes to /etc/sudoers.d/<openclaw_user>, both verbatim. The tests render them the
// way Jinja would, for a test account, so the hardened unit our users run is the one we test against.
//
// What the role's text means in a test bed (systemd 252, measured in system-manager.system.test.ts):
// - Since the role's commit a94c4c2 (2026-01-10) no task installs this template any more (the role now asks the
//   operator to run `openclaw onboard --install-daemon`), but it is the role's one system unit, installs that predate
//   the change still run it, and its sudoers lines are still written. The unit is named `openclaw` (openclaw.service).
// - `ExecStart=openclaw gateway` is NOT looked up through the unit's `Environment=PATH`: systemd 252 resolves a bare
//   name on its compiled-in path only (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin); with the
//   command only in ~/.local/bin or pnpm's bin it fails 203/EXEC. The test bed links it into the manager's private
//   /usr/local/sbin (what an operator's `ln -s` into /usr/local/bin does); the unit's PATH still applies to what the
//   gateway itself runs.
// - `Requires=docker.service`: a manager without one refuses to start the unit; DOCKER_STUB stands in for it.
// - `StandardOutput=journal`: there is no journald in the test bed; the service's output is lost unless a test adds a
//   drop-in with `StandardOutput=append:FILE`.
// - The sudoers lines name /usr/bin/systemctl; on the host of the tests that systemctl reaches no manager, so the test
//   bed installs them with its own systemctl wrapper in its place (system-manager-client.ts).
import type { Account } from './accounts.ts';

/** roles/openclaw/templates/openclaw-host.service.j2, verbatim. */
export const ROLE_UNIT_TEMPLATE = `[Unit]
Description=OpenClaw AI Gateway
After=network.target docker.service
Requires=docker.service

[Service]
Type=simple
User={{ openclaw_user }}
Group={{ openclaw_user }}
WorkingDirectory={{ openclaw_home }}

# Environment variables
Environment="PNPM_HOME={{ openclaw_home }}/.local/share/pnpm"
Environment="PATH={{ openclaw_home }}/.local/bin:{{ openclaw_home }}/.local/share/pnpm:/usr/local/bin:/usr/bin:/bin"
Environment="HOME={{ openclaw_home }}"
Environment="XDG_RUNTIME_DIR=/run/user/{{ openclaw_uid_value }}"

# DBus session bus
Environment="DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{{ openclaw_uid_value }}/bus"

# Start command
ExecStart=openclaw gateway

# Restart policy
Restart=always
RestartSec=10

# Security hardening
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths={{ openclaw_home }}/.openclaw
ReadWritePaths={{ openclaw_home }}/.local

# Logging
StandardOutput=journal
StandardError=journal
SyslogIdentifier=openclaw

[Install]
WantedBy=multi-user.target
`;

/** The service control lines of the role's /etc/sudoers.d/<openclaw_user> (its tailscale and journalctl lines left out). */
export const ROLE_SUDOERS_TEMPLATE = `# Service control - openclaw service only
{{ openclaw_user }} ALL=(ALL) NOPASSWD: /usr/bin/systemctl start openclaw
{{ openclaw_user }} ALL=(ALL) NOPASSWD: /usr/bin/systemctl stop openclaw
{{ openclaw_user }} ALL=(ALL) NOPASSWD: /usr/bin/systemctl restart openclaw
{{ openclaw_user }} ALL=(ALL) NOPASSWD: /usr/bin/systemctl status openclaw
{{ openclaw_user }} ALL=(ALL) NOPASSWD: /usr/bin/systemctl enable openclaw
{{ openclaw_user }} ALL=(ALL) NOPASSWD: /usr/bin/systemctl disable openclaw
# daemon-reload affects all units (required after service file changes)
{{ openclaw_user }} ALL=(ALL) NOPASSWD: /usr/bin/systemctl daemon-reload
`;

/** The unit's name as the role installs it (`systemctl restart openclaw`). */
export const ROLE_UNIT_NAME = 'openclaw.service';

/** Stands in for Docker, which the role's unit requires: a unit that is active and does nothing. */
export const DOCKER_STUB = `[Unit]
Description=stand-in for docker.service (the role's unit requires it)
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
`;

/** The role's variables for `who`: `openclaw_user`, `openclaw_home` (its home) and `openclaw_uid_value`. */
export function roleVariables(who: Account): Record<string, string> {
  return { openclaw_user: who.name, openclaw_home: who.home, openclaw_uid_value: String(who.uid) };
}

/** `{{ name }}` replaced by its value, as Jinja renders the role's templates; an unknown name is an error. */
export function renderJinja(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`template variable ${name} has no value`);
    return value;
  });
}

/** The role's unit for `who`, as `ansible-playbook` would install it. */
export const roleUnit = (who: Account): string => renderJinja(ROLE_UNIT_TEMPLATE, roleVariables(who));

/** The role's sudoers lines for `who`, with `systemctl` standing for the path a test bed gives (see above). */
export function roleSudoers(who: Account, systemctl = '/usr/bin/systemctl'): string {
  return renderJinja(ROLE_SUDOERS_TEMPLATE, roleVariables(who)).replaceAll('/usr/bin/systemctl', systemctl);
}
