"""Drives gpu_bench.run_isolated with stand-in groups: one that succeeds,
one that aborts and one that hangs (with a child of its own) after
writing a row each; then one left no time. Prints each group's status and
the rows it kept."""
import sys

sys.path.insert(0, sys.argv[1])
import gpu_bench  # noqa: E402

BODY = {
    "fine": "",
    "crash": "os.abort()",
    # The grandchild holds stdout open: only killing the whole session
    # lets the run go on.
    "hang": "subprocess.Popen(['sleep', '60']); time.sleep(60)",
    "late": "",
}


def command(group, path):
    row = {"rows": [{"model": group + "_row"}]}
    return [sys.executable, "-c",
            f"import json, os, subprocess, time\n"
            f"json.dump({row!r}, open({path!r}, 'w'))\n"
            f"{BODY[group]}"]


def done(group, status, seconds, result):
    rows = [r["model"] for r in result.get("rows", [])]
    print(f"{group}: {status}; rows {rows}", flush=True)


# 2 s per group, time enough in all: "hang" is cut at its limit.
gpu_bench.run_isolated(["fine", "crash", "hang"], command, lambda g: 2.0,
                       deadline=60.0, done=done)
# Less than the second a group needs to start.
gpu_bench.run_isolated(["late"], command, lambda g: 2.0, deadline=0.5,
                       done=done)
