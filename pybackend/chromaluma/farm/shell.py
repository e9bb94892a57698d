"""`--manager shell`: `tasks.txt`, one shell command per line, for `xargs -P`, GNU parallel or any queue.

Layout: a header of `#` comment lines (how to run it), then one line per chunk in frame order, then the verify
task as the last line. Every line is a complete POSIX shell command (`env K=V … /abs/python -m chromaluma.cli
apply …`, quoted with shlex), independent of the others and of the folder it runs in. The chunk lines may run
in any order and at the same time; the last line must run after all of them (the header shows how).
"""

from __future__ import annotations

import shlex

from chromaluma.farm.plan import FarmJob

TASKS_NAME = "tasks.txt"


def command_line(job: FarmJob, arguments: list[str]) -> str:
    """One shell line running the job's interpreter with `arguments` in the job's environment."""
    env = [f"{key}={value}" for key, value in job.environment().items()]
    return shlex.join(["env", *env, str(job.python), *arguments])


def spec_files(job: FarmJob) -> dict[str, str]:
    chunks = job.chunks()
    header = [
        f"# chromaluma farm job {job.name}: frames {job.frames} of {job.source}",
        f"# {len(chunks)} render task(s) of up to {job.chunk} frame(s), then 1 verify task (the last line).",
        "# Run the render lines in parallel, then the last line once they have all finished, e.g.:",
        f"#   grep -v '^#' {TASKS_NAME} | head -n -1 | xargs -d '\\n' -P 4 -n 1 sh -c",
        f"#   tail -n 1 {TASKS_NAME} | sh",
        "# A failed or killed task is run again with the same line: it keeps its finished frames (--resume).",
    ]
    lines = [command_line(job, job.render_arguments(chunk.frames)) for chunk in chunks]
    lines.append(command_line(job, job.verify_arguments()))
    return {TASKS_NAME: "\n".join(header + lines) + "\n"}
