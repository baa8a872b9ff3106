"""Drives gpu_bench.run_isolated with stand-in groups: one that succeeds,
one that aborts and one that hangs after writing a row each, and one left
no time. Prints each group's status and the rows it kept."""
import os
import sys

sys.path.insert(0, sys.argv[1])
import gpu_bench  # noqa: E402

BODY = {
    "fine": "",
    "crash": "os.abort()",
    "hang": "time.sleep(60)",
    "late": "",
}


def command(group, path):
    row = {"rows": [{"model": group + "_row"}]}
    return [sys.executable, "-c",
            f"import json, os, time\n"
            f"json.dump({row!r}, open({path!r}, 'w'))\n"
            f"{BODY[group]}"]


def done(group, status, seconds, result):
    rows = [r["model"] for r in result.get("rows", [])]
    print(f"{group}: {status}; rows {rows}")


# 2 s per group and 2.5 s in all: "hang" is cut at 2 s, which leaves
# "late" under the 1 s a group needs to start.
gpu_bench.run_isolated(list(BODY), command, group_timeout=2.0, deadline=2.5, done=done)
