"""Render-farm jobs: a shot split into `chromaluma apply --frames A-B --resume` tasks for a farm manager.

`chromaluma farm` plans the job (:mod:`.plan`: frame chunks, the command and environment of each task), writes it
for the chosen manager (:mod:`.shell` a plain task list, :mod:`.deadline` Deadline's CommandLine job files,
:mod:`.opencue` an OpenCue job spec) through :mod:`.spec_files` (atomic, never replacing a different spec unless
forced), and ends every job with one task that depends on all the others and checks the render logs
(:mod:`.verify`). Nothing here schedules anything itself: the farm manager does, and each task is an ordinary
`apply` that can be run again with the same command after any failure.
"""
