"""`--manager opencue`: an OpenCue job spec (`job.xml`, the cjsl DTD that Cuebot reads and PyOutline writes).

One job with two layers: `render` (type Render) whose `range` is the shot's frame list and `chunk` the frames
per task; Cuebot replaces `#FRAME_START#` and `#FRAME_END#` in `cmd` with each task's first and last frame. And
`verify` (type Util, one frame) with a LAYER_ON_LAYER dependency on `render`, so it starts once every render
frame has succeeded. The environment goes into each layer's `env`; with `--threads N` each layer reserves N cores.
The spec is plain XML, so no OpenCue package is needed to write it; submit it with PyCue (`submit_opencue.py` in
the spec folder):

    python -c "import opencue, sys; opencue.api.launchSpec(open(sys.argv[1]).read())" job.xml

`show` must exist on the Cuebot (`cueadmin -create-show NAME`); `shot` is the job's name and `user` the
submitting user (`render` where the system has no name for it).
"""

from __future__ import annotations

import getpass
import shlex
import xml.etree.ElementTree as ET  # noqa: N817 (the module's usual short name)

from chromaluma.farm.plan import FarmJob

JOB_SPEC = "job.xml"
SUBMIT_SCRIPT = "submit_opencue.py"
SPEC_VERSION = "1.13"  # the oldest cjsl version with every element written here; Cuebot reads newer ones too
_SUBMIT = '''"""Submit job.xml (from `chromaluma farm --manager opencue`) to the Cuebot PyCue is set up for."""

import pathlib

import opencue

print(opencue.api.launchSpec((pathlib.Path(__file__).parent / "job.xml").read_text()))
'''


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _layer(layers: ET.Element, job: FarmJob, name: str, kind: str, arguments: list[str], frames: str,
           chunk: int) -> None:
    layer = ET.SubElement(layers, "layer", {"name": name, "type": kind})
    _text(layer, "cmd", shlex.join([str(job.python), *arguments]))
    _text(layer, "range", frames)
    _text(layer, "chunk", str(chunk))
    if job.threads > 0:  # reserve the cores a task's threads use ("N.0": whole cores, not core points)
        _text(layer, "cores", f"{job.threads}.0")
    env = ET.SubElement(layer, "env")
    for key, value in job.environment().items():
        ET.SubElement(env, "key", {"name": key}).text = value
    services = ET.SubElement(layer, "services")
    _text(services, "service", "shell")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry and no $USER
        return "render"


def spec_files(job: FarmJob, show: str = "chromaluma") -> dict[str, str]:
    spec = ET.Element("spec")
    _text(spec, "show", show)
    _text(spec, "shot", job.name)
    _text(spec, "user", _user())
    cue_job = ET.SubElement(spec, "job", {"name": job.name})
    _text(cue_job, "paused", "False")
    _text(cue_job, "maxretries", "1")
    layers = ET.SubElement(cue_job, "layers")
    _layer(layers, job, "render", "Render", job.render_arguments("#FRAME_START#-#FRAME_END#"), job.frame_list(),
           job.chunk)
    _layer(layers, job, "verify", "Util", job.verify_arguments(), str(job.first), 1)
    depends = ET.SubElement(spec, "depends")
    depend = ET.SubElement(depends, "depend", {"type": "LAYER_ON_LAYER", "anyframe": "False"})
    for tag, text in (("depjob", job.name), ("deplayer", "verify"), ("onjob", job.name), ("onlayer", "render")):
        _text(depend, tag, text)
    ET.indent(spec)
    doctype = (f'<!DOCTYPE spec PUBLIC "SPI Cue  Specification Language" '
               f'"http://localhost:8080/spcue/dtd/cjsl-{SPEC_VERSION}.dtd">')
    xml = '<?xml version="1.0"?>\n' + doctype + "\n" + ET.tostring(spec, encoding="unicode") + "\n"
    return {JOB_SPEC: xml, SUBMIT_SCRIPT: _SUBMIT}
