"""`--manager deadline`: job info and plug-in info files for Deadline's CommandLine plug-in.

Two jobs, each a pair of `key=value` files: the render job (`Frames` = the shot's frame list, `ChunkSize` = the
frames per task; the CommandLine plug-in replaces `<STARTFRAME>` and `<ENDFRAME>` in `Arguments` with each
task's first and last frame) and the verify job (one task). Deadline job dependencies name job ids, which exist
only after submission, so the pair is submitted in one call that makes each job depend on the one before it:

    deadlinecommand -SubmitMultipleJobs -dependent -job render_job_info.job render_plugin_info.job \
        -job verify_job_info.job verify_plugin_info.job

(`submit_deadline.sh` in the spec folder holds exactly that line.) The environment of each task is given with
`EnvironmentKeyValueN=KEY=VALUE`; `OutputDirectory0` lets the Monitor open the output folder.
"""

from __future__ import annotations

import shlex

from chromaluma.errors import ParameterError
from chromaluma.farm.plan import FarmJob

RENDER_JOB, RENDER_PLUGIN = "render_job_info.job", "render_plugin_info.job"
VERIFY_JOB, VERIFY_PLUGIN = "verify_job_info.job", "verify_plugin_info.job"
SUBMIT_SCRIPT = "submit_deadline.sh"


def _key_values(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{key}={value}\n" for key, value in pairs)


def _arguments(arguments: list[str]) -> str:
    """The CommandLine plug-in's `Arguments`: split on spaces, double quotes group (paths with spaces)."""
    for argument in arguments:
        if '"' in argument or "\n" in argument:
            raise ParameterError(f"{argument!r}: a path with a double quote or a newline cannot be passed to "
                                 "Deadline's CommandLine plug-in; rename it.")
    return " ".join(f'"{argument}"' if not argument or any(c.isspace() for c in argument) else argument
                    for argument in arguments)


def _job_info(job: FarmJob, name: str, frames: str, chunk: int) -> str:
    pairs = [("Plugin", "CommandLine"), ("Name", name), ("BatchName", job.name), ("Comment", "chromaluma farm"),
             ("Frames", frames), ("ChunkSize", str(chunk)), ("OutputDirectory0", str(job.output))]
    pairs += [(f"EnvironmentKeyValue{index}", f"{key}={value}")
              for index, (key, value) in enumerate(job.environment().items())]
    return _key_values(pairs)


def _plugin_info(job: FarmJob, arguments: list[str]) -> str:
    return _key_values([("Executable", str(job.python)), ("Arguments", _arguments(arguments)),
                        ("ShellExecute", "False")])


def spec_files(job: FarmJob) -> dict[str, str]:
    submit = shlex.join(["deadlinecommand", "-SubmitMultipleJobs", "-dependent", "-job", RENDER_JOB, RENDER_PLUGIN,
                         "-job", VERIFY_JOB, VERIFY_PLUGIN])
    return {
        RENDER_JOB: _job_info(job, f"{job.name} render", job.frame_list(), job.chunk),
        RENDER_PLUGIN: _plugin_info(job, job.render_arguments("<STARTFRAME>-<ENDFRAME>")),
        VERIFY_JOB: _job_info(job, f"{job.name} verify", str(job.first), 1),
        VERIFY_PLUGIN: _plugin_info(job, job.verify_arguments()),
        SUBMIT_SCRIPT: "#!/bin/sh\n# Submit the render job, then the verify job that depends on it.\n"
                       f'cd "$(dirname "$0")" && {submit}\n',
    }
