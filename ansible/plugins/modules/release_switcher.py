#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see the LICENSE of release-switcher)
"""Ansible module over the release-switcher CLI's --json envelope (docs/exit-codes-and-json.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: release_switcher
short_description: Update, check or roll back a gateway managed by release-switcher
version_added: "0.1.0"
description:
  - Runs the C(release-switcher) CLI on one release root with C(--json) and reports its transaction.
  - C(changed) is true only when a transaction ran (its status is C(verified), C(switched), C(rolled_back),
    C(rollback_failed) or C(scheduled)); C(up_to_date) and every refusal before the flip change nothing.
  - The task fails on any status but C(verified), C(switched), C(up_to_date) and C(scheduled), with the error's
    code and hint in the message. A C(rolled_back) update fails and is C(changed) (the service restarted twice).
  - Check mode runs the CLI's C(--dry-run) (the plan); C(changed) says whether the plan would switch.
options:
  root:
    description: The release root (C(--root)).
    type: path
    required: true
  state:
    description:
      - C(present) the root exists (was init'd); its status is returned, nothing runs.
      - C(updated) C(update) to O(version), O(spec) or O(channel) (default the root's channel).
      - C(rolled_back) C(rollback) to O(version), else to C(previous).
    type: str
    choices: [present, updated, rolled_back]
    default: present
  version:
    description:
      - C(updated) the version to update to (the root's package at this version).
      - C(rolled_back) the version to go back to; nothing runs when it is already current.
    type: str
  spec:
    description: C(updated) an npm spec (C(openclaw@2026.9.6), a C(.tgz) path or URL) instead of O(version).
    type: str
  channel:
    description: C(updated) follow this channel (C(stable), C(beta), C(extended-stable)) for this update.
    type: str
  from_version:
    description: C(rolled_back) roll back only when this version is current (the bad release); else nothing runs.
    type: str
  preflight:
    description: false passes C(--no-preflight) (no rehearsal of the candidate before the flip).
    type: bool
    default: true
  wait:
    description: Passes C(--wait SECONDS) (wait for a busy lock and for a scheduled verdict); unset, a busy root fails.
    type: int
  executable:
    description:
      - The CLI to run (a path, or a name looked up on PATH, then in C(~/.local/bin), where the gateway role installs
        it for an account that is not root). Its environment is the task's (C(environment:)).
    type: str
    default: release-switcher
notes:
  - Stdlib only; the CLI does the work, one root at a time (its own lock). Roll across hosts with C(serial).
  - Run as the root's account (C(become_user)) and nothing else. The module finds that account's user manager itself
    (C(XDG_RUNTIME_DIR=/run/user/UID), C(DBUS_SESSION_BUS_ADDRESS) when its bus exists, C(HOME) and C(USER) from the
    password database), keeping the task's values only where they are that account's. A root supervised by
    C(systemd --user) whose account has no running user manager fails with C(NO_USER_MANAGER) and the
    C(loginctl enable-linger) to run.
author:
  - release-switcher contributors
"""

EXAMPLES = r"""
- name: Update the gateway to 2026.9.6; fails when it was rolled back
  release_switcher.fleet.release_switcher:
    root: /srv/gw/team-a
    state: updated
    version: "2026.9.6"
  register: rs

- name: Health gate, the module's own view of what runs
  release_switcher.fleet.release_switcher:
    root: /srv/gw/team-a
  register: gate
  failed_when: not gate.healthy

- name: Take hosts that verified the bad release back to the one before it
  release_switcher.fleet.release_switcher:
    root: /srv/gw/team-a
    state: rolled_back
    from_version: "2026.9.6"
"""

RETURN = r"""
status:
  description: The transaction's status (verified, switched, up_to_date, rolled_back, rollback_failed, failed, scheduled),
    C(would_switch)/C(up_to_date) in check mode, C(present) for state=present, C(not_current) when from_version is not current.
  type: str
  returned: always
transaction_id:
  description: The transaction's id, when one ran.
  type: str
  returned: when a transaction ran
transaction:
  description: The transaction's record (id, kind, status, from, to, reason, steps...).
  type: dict
  returned: when a transaction ran
verified:
  description: The new release runs and was verified by this run (status verified).
  type: bool
  returned: always
healthy:
  description: What the service runs is the current release (status's running.version == current).
  type: bool
  returned: always
current:
  description: The current release after the task.
  type: str
  returned: always
previous:
  description: The previous release after the task.
  type: str
  returned: always
running:
  description: What the supervised service really runs ({version, pid, since, source}) or null.
  type: dict
  returned: always
plan:
  description: The CLI's --dry-run plan (check mode).
  type: dict
  returned: in check mode, for updated and rolled_back
outcome:
  description: C(ok), or C(failed) when the task fails (with C(failed_when) off, as the rolling update counts its
    failures across the fleet, the registered result still says whether the host failed).
  type: str
  returned: always
exit_code:
  description: The CLI's exit code (0 ok, 1 failed and nothing changed, 2 usage, 3 rolled back, 4 a human must act, 5 busy).
  type: int
  returned: when the CLI ran a command
error:
  description: The envelope's error ({code, message, hint}).
  type: dict
  returned: on failure
"""

import json
import os
import pwd
import subprocess

# Statuses that mean a transaction ran (the service was restarted or handed to a runner).
CHANGED = frozenset(["verified", "switched", "rolled_back", "rollback_failed", "scheduled"])
# Statuses a task succeeds with.
SUCCEEDED = frozenset(["verified", "switched", "up_to_date", "scheduled"])
EXIT_MEANING = {
    1: "failed, nothing changed",
    2: "usage error",
    3: "rolled back: the new release failed, the previous one runs and is verified",
    4: "a human must act (rollback_failed or an inconsistent root)",
    5: "busy: another operation holds the root's lock",
}


class CliFailure(Exception):
    """The CLI answered with an error envelope, or no envelope at all."""

    def __init__(self, message, **fields):
        Exception.__init__(self, message)
        self.fields = fields


def owned_dir(path, uid):
    """Whether `path` is a folder that `uid` owns."""
    try:
        return os.path.isdir(path) and os.stat(path).st_uid == uid
    except OSError:
        return False


def account_environment(environ, account, runtime_base="/run/user"):
    """What to set for the CLI to reach `account`'s user manager and home, from its uid and the password database.

    `become_user` alone leaves root's HOME (sudo without -H, su without -) and no XDG_RUNTIME_DIR: systemctl --user
    then finds no manager. A value the task gave is kept when it is this account's (a folder it owns).
    """
    env = {}
    if not owned_dir(environ.get("HOME", ""), account.pw_uid):
        env["HOME"] = account.pw_dir
    for name in ("USER", "LOGNAME"):
        if environ.get(name) != account.pw_name:
            env[name] = account.pw_name
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if not owned_dir(runtime, account.pw_uid):
        runtime = os.path.join(runtime_base, str(account.pw_uid))
        env["XDG_RUNTIME_DIR"] = runtime
    bus = os.path.join(runtime, "bus")
    if "XDG_RUNTIME_DIR" in env or not environ.get("DBUS_SESSION_BUS_ADDRESS"):
        if os.path.exists(bus):
            env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=" + bus
    return env


def user_manager_problem(root, environ, account):
    """Why the root's systemd --user supervisor cannot be reached as `account` ({code, message, hint}), or None."""
    try:
        with open(os.path.join(root, "config.json")) as f:
            supervisor = json.load(f).get("supervisor")
    except (OSError, IOError, ValueError):
        return None  # the CLI says what is wrong with the root
    if supervisor != "systemd":
        return None
    runtime = environ.get("XDG_RUNTIME_DIR") or "/run/user/%d" % account.pw_uid
    if os.path.exists(os.path.join(runtime, "systemd", "private")) or os.path.exists(os.path.join(runtime, "bus")):
        return None
    return {
        "code": "NO_USER_MANAGER",
        "message": "%s is supervised by systemd --user, and account %s (uid %d) has no user manager running: %s has "
        "neither systemd/private nor bus. A user manager runs only while the account is logged in, unless it "
        "lingers." % (root, account.pw_name, account.pw_uid, runtime),
        "hint": "loginctl enable-linger %s, then run the task again" % account.pw_name,
    }


def find_executable(executable, environ):
    """`executable` as a path: a name is looked up on PATH, then in ~/.local/bin (the gateway role's user prefix)."""
    if os.sep in executable:
        return executable
    folders = environ.get("PATH", os.defpath).split(os.pathsep)
    folders.append(os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".local", "bin"))
    for folder in folders:
        candidate = os.path.join(folder, executable)
        if folder and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return executable  # not found: running it says so


def run_cli(executable, root, args, runner=None):
    """Runs `executable --root ROOT --json ARGS`: (exit code, envelope, stderr)."""
    argv = [executable, "--root", root, "--json"] + list(args)
    if runner is not None:
        code, out, err = runner(argv)
    else:
        # A fleet play started it: recorded as the origin of the transactions it starts (unless the task names another).
        env = dict(os.environ, RELEASE_SWITCHER_ORIGIN=os.environ.get("RELEASE_SWITCHER_ORIGIN") or "fleet")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env)
        out, err = proc.communicate()
        code = proc.returncode
    try:
        envelope = json.loads(out)
    except ValueError:
        raise CliFailure(
            "%s printed no JSON envelope (exit %s): %s" % (" ".join(argv), code, (err or out).strip()[-2000:]),
            exit_code=code,
        )
    if not isinstance(envelope, dict) or "ok" not in envelope:
        raise CliFailure("%s printed no JSON envelope: %s" % (" ".join(argv), out[:2000]), exit_code=code)
    return code, envelope, err


def error_message(envelope, code):
    error = envelope.get("error") or {}
    text = "%s: %s" % (error.get("code", "ERROR"), error.get("message", "release-switcher failed"))
    if error.get("hint"):
        text += " (hint: %s)" % error["hint"]
    if code in EXIT_MEANING:
        text += " [exit %d: %s]" % (code, EXIT_MEANING[code])
    return text


def status_of(executable, root, runner=None):
    """`status`: {current, previous, running, transaction}, or CliFailure (NOT_INITIALIZED for a root never init'd)."""
    code, envelope, _ = run_cli(executable, root, ["status"], runner)
    if not envelope.get("ok"):
        raise CliFailure(error_message(envelope, code), exit_code=code, error=envelope.get("error"))
    return envelope.get("result") or {}


def view(status):
    """The fields every result carries, from a `status` result."""
    running = status.get("running")
    current = status.get("current")
    return {
        "current": current,
        "previous": status.get("previous"),
        "running": running,
        "healthy": bool(running) and current is not None and running.get("version") == current,
    }


def package_of(root):
    with open(os.path.join(root, "config.json")) as f:
        return json.load(f)["package"]


def command_for(params, status):
    """The CLI arguments the task runs, or None when nothing needs to run (and why)."""
    state = params["state"]
    if state == "updated":
        if params.get("spec"):
            args = ["update", params["spec"]]
        elif params.get("version"):
            args = ["update", "%s@%s" % (package_of(params["root"]), params["version"])]
        elif params.get("channel"):
            args = ["update", "--channel", params["channel"]]
        else:
            args = ["update"]
        if params.get("preflight") is False:
            args.append("--no-preflight")
    elif state == "rolled_back":
        current = status.get("current")
        if params.get("from_version") and current != params["from_version"]:
            return None, "not_current"
        if params.get("version") and current == params["version"]:
            return None, "up_to_date"
        args = ["rollback"] + ([params["version"]] if params.get("version") else [])
    else:
        return None, "present"
    if params.get("wait") is not None:
        args += ["--wait", str(params["wait"])]
    return args, None


def plan_result(envelope, code):
    """Check mode: the --dry-run plan. Changed when it would switch."""
    if not envelope.get("ok"):
        return {"failed": True, "changed": False, "msg": error_message(envelope, code), "exit_code": code,
                "error": envelope.get("error"), "status": "failed"}
    plan = envelope.get("result") or {}
    would = plan.get("action") == "switch"
    return {"changed": would, "failed": False, "plan": plan, "exit_code": code, "verified": False,
            "status": "would_switch" if would else plan.get("action", "up_to_date")}


def transaction_result(envelope, code):
    """A transaction's envelope: changed when a transaction ran; failed unless it verified (or needs no verdict)."""
    result = envelope.get("result")
    tx = result if isinstance(result, dict) and "status" in result and "id" in result else None
    status = tx["status"] if tx else ("failed" if not envelope.get("ok") else "ok")
    out = {"status": status, "exit_code": code, "changed": status in CHANGED, "verified": status == "verified"}
    if tx:
        out["transaction"] = tx
        out["transaction_id"] = tx.get("id")
    ok = envelope.get("ok") and (tx is None or status in SUCCEEDED)
    out["failed"] = not ok
    if not ok:
        out["error"] = envelope.get("error")
        out["msg"] = error_message(envelope, code) if envelope.get("error") else "release-switcher: %s" % status
    else:
        out["msg"] = "%s%s" % (status, (": %s -> %s" % (tx.get("from"), tx.get("to"))) if tx else "")
    return out


def run(params, check_mode, runner=None, environ=None):
    """The whole task as data: the result dict Ansible gets (exit_json or fail_json by its `failed`), its
    `outcome` saying the same as data. `environ`: the CLI's environment (default this process's)."""
    out = run_task(params, check_mode, runner, os.environ if environ is None else environ)
    out["outcome"] = "failed" if out["failed"] else "ok"
    return out


def run_task(params, check_mode, runner, environ):
    root = params["root"]
    executable = find_executable(params.get("executable") or "release-switcher", environ)
    problem = user_manager_problem(root, environ, pwd.getpwuid(os.geteuid()))
    if problem:
        return {"changed": False, "failed": True, "status": "failed", "verified": False, "error": problem,
                "msg": "%(code)s: %(message)s (hint: %(hint)s)" % problem}
    try:
        before = status_of(executable, root, runner)
        args, why = command_for(params, before)
        if args is None:
            out = {"changed": False, "failed": False, "status": why, "verified": False,
                   "msg": "%s: nothing to run" % why, "transaction": before.get("transaction")}
            out.update(view(before))
            return out
        if check_mode:
            code, envelope, _ = run_cli(executable, root, args + ["--dry-run"], runner)
            out = plan_result(envelope, code)
            out.update(view(before))
            return out
        code, envelope, _ = run_cli(executable, root, args, runner)
        out = transaction_result(envelope, code)
        try:
            out.update(view(status_of(executable, root, runner)))
        except CliFailure:
            out.update(view(before))
        return out
    except CliFailure as e:
        out = {"changed": False, "failed": True, "msg": str(e), "status": "failed", "verified": False}
        out.update(e.fields)
        return out
    except (OSError, IOError, KeyError, ValueError) as e:
        return {"changed": False, "failed": True, "status": "failed", "verified": False,
                "msg": "release-switcher on %s: %s" % (root, e)}


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            state=dict(type="str", default="present", choices=["present", "updated", "rolled_back"]),
            version=dict(type="str"),
            spec=dict(type="str"),
            channel=dict(type="str"),
            from_version=dict(type="str"),
            preflight=dict(type="bool", default=True),
            wait=dict(type="int"),
            executable=dict(type="str", default="release-switcher"),
        ),
        mutually_exclusive=[["version", "spec", "channel"]],
        supports_check_mode=True,
    )

    update = account_environment(os.environ, pwd.getpwuid(os.geteuid()))
    environ = dict(os.environ, **update)

    def runner(argv):
        return module.run_command(argv, environ_update=update, check_rc=False)

    result = run(module.params, module.check_mode, runner, environ)
    if result.pop("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
