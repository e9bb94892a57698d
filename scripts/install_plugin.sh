#!/usr/bin/env bash
# Install the Chromaluma OpenFX bundle and tell it which Python environment to embed.
#
#   scripts/install_plugin.sh BUILD_DIR PYTHON
#
# BUILD_DIR: the CMake build folder (the bundle is BUILD_DIR/ofx_plugin/Chromaluma.ofx.bundle).
# PYTHON:    the python executable of the environment where chromaluma is installed (e.g. .venv/bin/python).
# Destination: the first folder of $OFX_PLUGIN_PATH if set, else /usr/OFX/Plugins (where Resolve, Nuke and Natron
# look on Linux). Writes Contents/Resources/chromaluma.conf in the installed bundle: the environment's python and
# that Python's shared library (libpython3.X.so.1.0), which Chromaluma.ofx loads at first use (it does not link
# it, so the effect loads even where Python is missing). CHROMALUMA_PYTHON / CHROMALUMA_LIBPYTHON set in the
# host's environment override the file.
set -euo pipefail

die() { echo "install_plugin: error: $*" >&2; exit 2; }

[[ $# -eq 2 ]] || die "usage: $0 BUILD_DIR PYTHON"
build_dir=$1
python=$2
bundle="$build_dir/ofx_plugin/Chromaluma.ofx.bundle"
[[ -f "$bundle/Contents/Linux-x86-64/Chromaluma.ofx" && -f "$bundle/Contents/Linux-x86-64/ChromalumaPython.so" ]] \
  || die "no complete built bundle at $bundle (run \`make build\` first)"
[[ -x "$python" ]] || die "PYTHON '$python' is not an executable"

# Absolute path without resolving symlinks: a venv's bin/python is a symlink, and the venv is found through it.
python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"
"$python" -c "import chromaluma.api" 2>/dev/null \
  || die "$python cannot import chromaluma.api; install chromaluma into that environment (make venv) first"

# The plug-in is linked against one Python minor version; the environment must be the same one.
built_for=$(sed -n 's/^python *= *//p' "$bundle/Contents/Resources/chromaluma.conf" | head -n1)
version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
if [[ -n "$built_for" && -x "$built_for" ]]; then
  [[ "$(version_of "$built_for")" == "$(version_of "$python")" ]] \
    || die "the plug-in was built for Python $(version_of "$built_for") but $python is Python $(version_of "$python")"
fi

# The Python's shared library, as that Python reports it (LIBDIR, or LIBDIR/MULTIARCH on Debian and Ubuntu).
libpython=$("$python" - <<'PY'
import os
import sysconfig

var = sysconfig.get_config_var
libdir = var("LIBDIR") or ""
for folder in (libdir, os.path.join(libdir, var("MULTIARCH") or "")):
    for name in (var("INSTSONAME"), var("LDLIBRARY")):
        if name and ".so" in name and os.path.isfile(os.path.join(folder, name)):
            print(os.path.realpath(os.path.join(folder, name)))
            raise SystemExit(0)
PY
) || true
[[ -n "$libpython" ]] \
  || die "$python has no shared libpython (a Python built with --enable-shared is needed; pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared)"

dest=${OFX_PLUGIN_PATH:-/usr/OFX/Plugins}
dest=${dest%%:*}
mkdir -p "$dest" || die "cannot create $dest (run as root, or set OFX_PLUGIN_PATH to a folder you own)"
staging="$dest/.Chromaluma.ofx.bundle.installing"
rm -rf "$staging"
cp -R "$bundle" "$staging"
cat > "$staging/Contents/Resources/chromaluma.conf" <<CONF
# Chromaluma Restore: which Python environment the plug-in embeds (written by scripts/install_plugin.sh).
# The environment variables CHROMALUMA_PYTHON and CHROMALUMA_LIBPYTHON override this file (with CHROMALUMA_PYTHON
# set, the libpython line is ignored: it belongs to this python).
python = $python
libpython = $libpython
CONF
rm -rf "$dest/Chromaluma.ofx.bundle"
mv "$staging" "$dest/Chromaluma.ofx.bundle"
echo "installed $dest/Chromaluma.ofx.bundle (Python environment: $python; library: $libpython)"
