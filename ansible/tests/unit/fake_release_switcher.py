#!/usr/bin/env python3
"""A stand-in for the release-switcher CLI: answers each command with the envelope a scenario file gives it.

FAKE_RS_SCENARIO names a JSON file {"<command>[ --dry-run]": {"exit": N, "envelope": {...}} | [answers...]}; a list
is answered in order (the last one repeats). Every argv is appended to FAKE_RS_LOG, one JSON list per line.
"""
import json
import os
import sys

argv = sys.argv[1:]
with open(os.environ["FAKE_RS_LOG"], "a") as log:
    log.write(json.dumps(argv) + "\n")
# Who the module says runs the CLI (RELEASE_SWITCHER_ORIGIN), one line per run beside the log.
with open(os.environ["FAKE_RS_LOG"] + ".origin", "a") as origin:
    origin.write(os.environ.get("RELEASE_SWITCHER_ORIGIN", "(unset)") + "\n")
with open(os.environ["FAKE_RS_SCENARIO"]) as f:
    scenario = json.load(f)
rest = [a for a in argv if a != "--json"]
if rest[:1] == ["--root"]:
    rest = rest[2:]
key = rest[0] + (" --dry-run" if "--dry-run" in rest else "")
answers = scenario.get(key)
if answers is None:
    sys.stdout.write(json.dumps({"ok": False, "error": {"code": "USAGE", "message": "fake: no answer for " + key}}))
    sys.exit(2)
if isinstance(answers, list):
    counter = os.environ["FAKE_RS_LOG"] + "." + key.replace(" ", "_")
    n = int(open(counter).read()) if os.path.exists(counter) else 0
    open(counter, "w").write(str(n + 1))
    answers = answers[min(n, len(answers) - 1)]
sys.stdout.write(json.dumps(answers["envelope"]))
sys.exit(answers.get("exit", 0))
