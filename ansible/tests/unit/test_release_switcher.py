"""The release_switcher module against a fake CLI (fake_release_switcher.py): plain unittest, no Ansible needed,
but for the last case, which runs the module file the way Ansible does when ansible-core is importable.

Run: python3 -m unittest discover -s ansible/tests/unit -v
"""
import importlib.util
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.path.join(HERE, "..", "..", "plugins", "modules", "release_switcher.py")
FAKE = os.path.join(HERE, "fake_release_switcher.py")



def python_with_ansible():
    """An interpreter that imports ansible-core (this one, else Debian's), or None."""
    for python in (sys.executable, "/usr/bin/python3"):
        probe = [python, "-c", "import ansible.module_utils.basic"]
        if os.path.exists(python) and subprocess.run(probe, cwd="/", stderr=subprocess.DEVNULL).returncode == 0:
            return python
    return None


ANSIBLE_PYTHON = python_with_ansible()

spec = importlib.util.spec_from_file_location("release_switcher", MODULE)
rs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rs)


def status(current, previous=None, running=None, transaction=None):
    run = {"version": current, "pid": 42, "since": "2026-11-26T10:00:00Z", "source": "health"}
    return {"exit": 0, "envelope": {"ok": True, "result": {
        "current": current, "previous": previous, "running": run if running is None else running,
        "transaction": transaction}}}


def tx(status_, frm="1.1.0", to="1.2.0", kind="update", reason=None):
    return {"id": "20261126-abc", "kind": kind, "status": status_, "from": frm, "to": to, "reason": reason,
            "startedAt": "2026-11-26T10:00:00Z", "finishedAt": "2026-11-26T10:00:09Z", "steps": []}


def plan(action, frm="1.1.0", to="1.2.0"):
    return {"exit": 0, "envelope": {"ok": True, "result": {"kind": "update", "from": frm, "to": to, "action": action,
                                                            "steps": ["flip", "restart", "verify"]}}}


class ModuleTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rs-ansible-")
        self.root = os.path.join(self.dir, "root")
        os.mkdir(self.root)
        with open(os.path.join(self.root, "config.json"), "w") as f:
            json.dump({"package": "openclaw"}, f)
        self.log = os.path.join(self.dir, "argv.log")
        os.environ["FAKE_RS_LOG"] = self.log
        os.environ["FAKE_RS_SCENARIO"] = os.path.join(self.dir, "scenario.json")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def scenario(self, answers):
        with open(os.environ["FAKE_RS_SCENARIO"], "w") as f:
            json.dump(answers, f)

    def run_task(self, check_mode=False, **params):
        full = {"root": self.root, "state": "present", "version": None, "spec": None, "channel": None,
                "from_version": None, "preflight": True, "wait": None, "executable": FAKE}
        full.update(params)
        return rs.run(full, check_mode)

    def commands(self):
        with open(self.log) as f:
            return [[a for a in json.loads(line) if a not in ("--json",)][2:] for line in f]

    def test_present_returns_the_status_and_changes_nothing(self):
        self.scenario({"status": status("1.1.0", "1.0.0", transaction=tx("verified", "1.0.0", "1.1.0"))})
        r = self.run_task()
        self.assertEqual((r["failed"], r["changed"], r["status"]), (False, False, "present"))
        self.assertEqual((r["current"], r["previous"], r["healthy"]), ("1.1.0", "1.0.0", True))
        self.assertEqual(r["transaction"]["id"], "20261126-abc")
        self.assertEqual(self.commands(), [["status"]])

    def test_the_cli_is_told_a_fleet_play_runs_it_unless_the_task_names_another(self):
        self.scenario({"status": status("1.1.0", "1.0.0")})
        self.run_task()
        os.environ["RELEASE_SWITCHER_ORIGIN"] = "command"
        try:
            self.run_task()
        finally:
            del os.environ["RELEASE_SWITCHER_ORIGIN"]
        with open(self.log + ".origin") as f:
            self.assertEqual(f.read().split(), ["fleet", "command"])

    def test_present_fails_on_a_root_never_initialized_with_its_code_and_hint(self):
        self.scenario({"status": {"exit": 1, "envelope": {"ok": False, "error": {
            "code": "NOT_INITIALIZED", "message": "no root at /x", "hint": "release-switcher init --package NAME"}}}})
        r = self.run_task()
        self.assertTrue(r["failed"])
        self.assertIn("NOT_INITIALIZED: no root at /x (hint: release-switcher init --package NAME)", r["msg"])
        self.assertEqual(r["exit_code"], 1)

    def test_not_healthy_when_the_service_runs_another_release_or_nothing(self):
        self.scenario({"status": status("1.2.0", running={"version": "1.1.0"})})
        self.assertFalse(self.run_task()["healthy"])
        self.scenario({"status": {"exit": 0, "envelope": {"ok": True, "result": {
            "current": "1.2.0", "previous": None, "running": None, "transaction": None}}}})
        self.assertFalse(self.run_task()["healthy"])

    def test_updated_verified_is_changed_with_the_transaction(self):
        self.scenario({"status": [status("1.1.0"), status("1.2.0", "1.1.0")],
                       "update": {"exit": 0, "envelope": {"ok": True, "result": tx("verified")}}})
        r = self.run_task(state="updated", version="1.2.0")
        self.assertEqual((r["failed"], r["changed"], r["status"], r["verified"]), (False, True, "verified", True))
        self.assertEqual(r["transaction_id"], "20261126-abc")
        self.assertEqual((r["current"], r["previous"]), ("1.2.0", "1.1.0"))
        self.assertEqual(self.commands(), [["status"], ["update", "openclaw@1.2.0"], ["status"]])

    def test_updated_up_to_date_is_not_changed(self):
        self.scenario({"status": status("1.2.0"),
                       "update": {"exit": 0, "envelope": {"ok": True, "result": tx("up_to_date", "1.2.0", "1.2.0")}}})
        r = self.run_task(state="updated", version="1.2.0")
        self.assertEqual((r["failed"], r["changed"], r["status"], r["verified"]), (False, False, "up_to_date", False))

    def test_switched_succeeds_and_is_changed(self):
        self.scenario({"status": status("1.1.0"),
                       "update": {"exit": 0, "envelope": {"ok": True, "result": tx("switched")}}})
        r = self.run_task(state="updated", spec="openclaw@beta")
        self.assertEqual((r["failed"], r["changed"], r["status"]), (False, True, "switched"))
        self.assertEqual(self.commands()[1], ["update", "openclaw@beta"])

    def test_rolled_back_fails_changed_with_code_hint_and_exit_meaning(self):
        self.scenario({"status": status("1.1.0"), "update": {"exit": 3, "envelope": {
            "ok": False, "error": {"code": "ROLLED_BACK", "message": "1.2.0 crashed; 1.1.0 restored",
                                   "hint": "release-switcher status"},
            "result": tx("rolled_back", reason="crashed")}}})
        r = self.run_task(state="updated", version="1.2.0")
        self.assertEqual((r["failed"], r["changed"], r["status"], r["exit_code"]), (True, True, "rolled_back", 3))
        self.assertIn("ROLLED_BACK: 1.2.0 crashed; 1.1.0 restored (hint: release-switcher status)", r["msg"])
        self.assertIn("exit 3: rolled back", r["msg"])
        self.assertEqual(r["transaction"]["reason"], "crashed")

    def test_rollback_failed_fails_changed(self):
        self.scenario({"status": status("1.1.0"), "update": {"exit": 4, "envelope": {
            "ok": False, "error": {"code": "ROLLBACK_FAILED", "message": "m", "hint": "release-switcher recover"},
            "result": tx("rollback_failed")}}})
        r = self.run_task(state="updated", version="1.2.0")
        self.assertEqual((r["failed"], r["changed"], r["exit_code"]), (True, True, 4))
        self.assertIn("a human must act", r["msg"])

    def test_failed_before_the_flip_and_busy_change_nothing(self):
        for code, name, result in ((1, "PREFLIGHT_FAILED", tx("failed")), (5, "BUSY", None)):
            envelope = {"ok": False, "error": {"code": name, "message": "no", "hint": "h"}}
            if result:
                envelope["result"] = result
            self.scenario({"status": status("1.1.0"), "update": {"exit": code, "envelope": envelope}})
            r = self.run_task(state="updated", version="1.2.0")
            self.assertEqual((r["failed"], r["changed"], r["exit_code"]), (True, False, code), name)
            self.assertIn(name + ": no (hint: h)", r["msg"])

    def test_channel_no_preflight_and_wait_reach_the_cli(self):
        self.scenario({"status": status("1.1.0"),
                       "update": {"exit": 0, "envelope": {"ok": True, "result": tx("verified")}}})
        self.run_task(state="updated", channel="beta", preflight=False, wait=30)
        self.assertEqual(self.commands()[1], ["update", "--channel", "beta", "--no-preflight", "--wait", "30"])

    def test_check_mode_is_the_dry_run_and_changes_nothing(self):
        self.scenario({"status": status("1.1.0"), "update --dry-run": plan("switch")})
        r = self.run_task(check_mode=True, state="updated", version="1.2.0")
        self.assertEqual((r["failed"], r["changed"], r["status"]), (False, True, "would_switch"))
        self.assertEqual(r["plan"]["to"], "1.2.0")
        self.assertEqual(self.commands(), [["status"], ["update", "openclaw@1.2.0", "--dry-run"]])
        self.scenario({"status": status("1.2.0"), "update --dry-run": plan("up_to_date", "1.2.0")})
        r = self.run_task(check_mode=True, state="updated", version="1.2.0")
        self.assertEqual((r["changed"], r["status"]), (False, "up_to_date"))

    def test_rolled_back_runs_rollback_only_from_the_bad_release(self):
        self.scenario({"status": [status("1.2.0", "1.1.0"), status("1.1.0", "1.2.0")],
                       "rollback": {"exit": 0, "envelope": {"ok": True, "result": tx("verified", "1.2.0", "1.1.0",
                                                                                    "rollback")}}})
        r = self.run_task(state="rolled_back", from_version="1.2.0")
        self.assertEqual((r["failed"], r["changed"], r["status"], r["current"]), (False, True, "verified", "1.1.0"))
        self.assertEqual(self.commands()[1], ["rollback"])
        # Run again: 1.2.0 is no longer current, nothing runs.
        r = self.run_task(state="rolled_back", from_version="1.2.0")
        self.assertEqual((r["failed"], r["changed"], r["status"]), (False, False, "not_current"))
        self.assertEqual(len(self.commands()), 4)

    def test_rolled_back_to_a_version_already_current_runs_nothing(self):
        self.scenario({"status": status("1.1.0")})
        r = self.run_task(state="rolled_back", version="1.1.0")
        self.assertEqual((r["changed"], r["status"]), (False, "up_to_date"))
        self.assertEqual(self.commands(), [["status"]])

    def test_no_envelope_fails_with_the_output(self):
        self.scenario({"status": status("1.1.0")})
        r = self.run_task(executable="/bin/false")
        self.assertTrue(r["failed"])
        self.assertIn("no JSON envelope", r["msg"])

    def test_outcome_says_as_data_whether_the_task_failed(self):
        self.scenario({"status": status("1.1.0"), "update": [
            {"exit": 3, "envelope": {"ok": False, "error": {"code": "ROLLED_BACK", "message": "m"},
                                     "result": tx("rolled_back")}},
            {"exit": 0, "envelope": {"ok": True, "result": tx("verified")}}]})
        self.assertEqual(self.run_task(state="updated", version="1.2.0")["outcome"], "failed")
        self.assertEqual(self.run_task(state="updated", version="1.2.0")["outcome"], "ok")

    def account(self, uid=None):
        me = os.geteuid() if uid is None else uid
        return pwd.struct_passwd(("gw", "x", me, me, "", self.dir, "/bin/sh"))

    def test_account_environment_finds_the_user_manager_from_the_uid_and_home_from_the_password_database(self):
        base = os.path.join(self.dir, "run-user")
        runtime = os.path.join(base, str(os.geteuid()))
        os.makedirs(runtime)
        open(os.path.join(runtime, "bus"), "w").close()
        # become_user alone: root's HOME, no runtime dir.
        env = rs.account_environment({"HOME": "/nonexistent", "USER": "root"}, self.account(), base)
        self.assertEqual(env, {"HOME": self.dir, "USER": "gw", "LOGNAME": "gw", "XDG_RUNTIME_DIR": runtime,
                               "DBUS_SESSION_BUS_ADDRESS": "unix:path=" + os.path.join(runtime, "bus")})
        # The task's own values are kept where they are this account's.
        given = {"HOME": self.dir, "USER": "gw", "LOGNAME": "gw", "XDG_RUNTIME_DIR": self.root}
        self.assertEqual(rs.account_environment(given, self.account(), base), {})
        # Another account's runtime dir is not kept.
        self.assertEqual(rs.account_environment(given, self.account(uid=os.geteuid() + 1), base)["XDG_RUNTIME_DIR"],
                         os.path.join(base, str(os.geteuid() + 1)))

    def test_no_user_manager_fails_clearly_with_the_linger_to_run_and_runs_nothing(self):
        with open(os.path.join(self.root, "config.json"), "w") as f:
            json.dump({"package": "openclaw", "supervisor": "systemd"}, f)
        self.scenario({"status": status("1.1.0")})
        runtime = os.path.join(self.dir, "no-manager")
        r = rs.run(dict(root=self.root, state="present", executable=FAKE), False, None, {"XDG_RUNTIME_DIR": runtime})
        self.assertEqual((r["failed"], r["outcome"], r["error"]["code"]), (True, "failed", "NO_USER_MANAGER"))
        self.assertIn("no user manager running: %s has neither systemd/private nor bus" % runtime, r["msg"])
        self.assertIn("(hint: loginctl enable-linger ", r["msg"])
        self.assertFalse(os.path.exists(self.log))
        # Its manager running (the private socket there): the task runs.
        os.makedirs(os.path.join(runtime, "systemd"))
        open(os.path.join(runtime, "systemd", "private"), "w").close()
        r = rs.run(dict(root=self.root, state="present", executable=FAKE), False, None, {"XDG_RUNTIME_DIR": runtime})
        self.assertEqual((r["failed"], r["status"]), (False, "present"))

    def test_the_executable_is_found_on_path_then_in_the_user_prefix(self):
        bin_dir = os.path.join(self.dir, ".local", "bin")
        os.makedirs(bin_dir)
        tool = os.path.join(bin_dir, "release-switcher")
        shutil.copy(FAKE, tool)
        os.chmod(tool, 0o755)
        self.assertEqual(rs.find_executable("release-switcher", {"PATH": "/nonexistent", "HOME": self.dir}), tool)
        self.assertEqual(rs.find_executable("sh", {"PATH": "/bin", "HOME": self.dir}), "/bin/sh")
        self.assertEqual(rs.find_executable("/x/rs", {"HOME": self.dir}), "/x/rs")

    @unittest.skipUnless(
        ANSIBLE_PYTHON,
        "ansible-core is not importable here (apt-get install ansible-core); it runs in CI, which installs it (.ci/run)",
    )
    def test_runs_as_ansible_runs_it(self):
        self.scenario({"status": status("1.1.0"), "update": {"exit": 3, "envelope": {
            "ok": False, "error": {"code": "ROLLED_BACK", "message": "crashed", "hint": "h"},
            "result": tx("rolled_back")}}})
        args = os.path.join(self.dir, "args.json")
        with open(args, "w") as f:
            json.dump({"ANSIBLE_MODULE_ARGS": {"root": self.root, "state": "updated", "version": "1.2.0",
                                               "executable": FAKE}}, f)
        done = subprocess.run([ANSIBLE_PYTHON, MODULE, args], cwd=self.dir, stdout=subprocess.PIPE,
                              universal_newlines=True)
        out = json.loads(done.stdout)
        self.assertEqual(done.returncode, 1)
        self.assertEqual((out["failed"], out["changed"], out["status"]), (True, True, "rolled_back"))
        self.assertIn("ROLLED_BACK: crashed (hint: h)", out["msg"])


if __name__ == "__main__":
    unittest.main()
