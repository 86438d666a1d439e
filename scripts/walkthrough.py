#!/usr/bin/env python3
"""Runs the README's walk-through (the `sh` blocks under "## A walk-through with curl") against a
running service and checks every answer the README shows, so the README cannot drift.

    scripts/walkthrough.py README.md http://127.0.0.1:18198     (scripts/walkthrough.sh starts the service)

In a block, `$ ` starts a command (continued by a trailing `\\` or a here-document); the lines after
it up to the next command or comment are the answer it must give. An answer line matches when its
text, whitespace aside, appears in the output, in order; `...` and `…` stand for anything. A command
with no answer shown must still succeed (exit 0, no 5xx). Commands run with bash in the directory
the service was started in, in order, with earlier variable assignments (`KEY=...`, `H=(...)`) in
force. `$ cargo run ...` (the service is already running) and `$ open ...` are not run.
"""

import re
import subprocess
import sys

SECTION = "## A walk-through with curl"
SKIP = ("cargo run", "open ")


def blocks(readme: str) -> list[list[str]]:
    """The `sh` blocks of the walk-through section (it ends at the next `## ` heading)."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start : end if end >= 0 else len(readme)]
    return [b.split("\n") for b in re.findall(r"```sh\n(.*?)```", section, re.S)]


def steps(block: list[str]) -> list[tuple[str, list[str]]]:
    """`(command, answer lines)` in order."""
    out: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(block):
        line = block[i]
        if not line.startswith("$ "):
            i += 1
            continue
        cmd = [line[2:]]
        heredoc = re.search(r"<<-?'?(\w+)'?", line)
        i += 1
        # A trailing `\` or an open single quote (a body over several lines) continues it.
        while (cmd[-1].endswith("\\") or "\n".join(cmd).count("'") % 2) and i < len(block):
            cmd.append(block[i])
            i += 1
        if heredoc:
            while i < len(block) and block[i].strip() != heredoc.group(1):
                cmd.append(block[i])
                i += 1
            cmd.append(block[i])
            i += 1
        answer = []
        while i < len(block) and not block[i].startswith(("$ ", "#")):
            if block[i].strip():
                # A trailing `  # note` explains the answer and is not part of it.
                answer.append(re.sub(r"\s{2,}#.*$", "", block[i]))
            i += 1
        out.append(("\n".join(cmd), answer))
    return out


def _run(script: str) -> subprocess.CompletedProcess[str]:
    """`script` in bash; what it writes to fd 3 lands in the state file."""
    return subprocess.run(
        ["bash", "-c", "exec 3>.walkthrough-state\n" + script], capture_output=True, text=True, timeout=60
    )


def pattern(line: str) -> re.Pattern[str]:
    parts = re.split(r"\.\.\.|…", re.sub(r"\s+", "", line))
    return re.compile(".*?".join(re.escape(p) for p in parts), re.S)


def main() -> int:
    readme_path, base = sys.argv[1], sys.argv[2]
    host_port = base.split("://", 1)[1]
    readme = open(readme_path, encoding="utf-8").read()
    assignments: list[str] = []
    failures = 0
    count = 0
    for block in blocks(readme):
        for cmd, answer in steps(block):
            if cmd.startswith(SKIP):
                continue
            count += 1
            script = "\n".join(assignments + [cmd.replace("localhost:8080", host_port)])
            assigned = re.match(r"^([A-Z_]+)=", cmd)
            if assigned:
                # Keep the value, not the command: `KEY=$(cat file) && rm file` runs once.
                script += f"\ndeclare -p {assigned.group(1)} >&3"
            run = _run(script)
            output = run.stdout
            if assigned:
                assignments.append(open(".walkthrough-state", encoding="utf-8").read())
            problems = []
            if run.returncode != 0:
                problems.append(f"exit status {run.returncode}: {run.stderr.strip()}")
            if re.search(r'"status":\s*5\d\d|^HTTP/1.1 5', output, re.M):
                problems.append("a 5xx answer")
            flat, at = re.sub(r"\s+", "", output), 0
            for line in answer:
                m = pattern(line).search(flat, at)
                if not m:
                    problems.append(f"missing from the answer: {line.strip()}")
                    break
                at = m.end()
            first = cmd.split("\n")[0]
            if problems:
                failures += 1
                print(f"FAIL  $ {first}")
                for p in problems:
                    print(f"      {p}")
                print("      got: " + output.strip().replace("\n", "\n           ")[:2000])
            else:
                print(f"ok    $ {first}")
    print(f"walk-through: {count} commands, {failures} failed")
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
