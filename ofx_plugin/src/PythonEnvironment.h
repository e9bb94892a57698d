// Where the plug-in's Python environment is, decided before any Python is loaded (no Python headers here).
//
// The environment is named by the path of its python executable (a venv's bin/python): the environment
// variable CHROMALUMA_PYTHON if set, else the `python = ...` line of Contents/Resources/chromaluma.conf, written
// by the build (build tree) and by scripts/install_plugin.sh (installed bundle).
//
// The shared library of that Python (libpython3.X.so.1.0), which the plug-in loads before its bridge module: the
// environment variable CHROMALUMA_LIBPYTHON if set; else the conf's `libpython = ...` line when the conf also
// named the python; else derived from the python: its venv's base installation (pyvenv.cfg `home`) or its own
// prefix, in lib/, lib64/ and lib/<multiarch>/.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace chromaluma {

inline constexpr const char* kPythonEnvVar = "CHROMALUMA_PYTHON";
inline constexpr const char* kLibpythonEnvVar = "CHROMALUMA_LIBPYTHON";
inline constexpr const char* kConfFileName = "chromaluma.conf";

struct PythonLocation {
    std::string python;           // path of the environment's python executable
    std::string origin;           // where the path came from, for messages ("CHROMALUMA_PYTHON", or the conf path)
    std::string libpython;        // libpython named explicitly (may not exist); empty: derive it from `python`
    std::string libpythonOrigin;  // "CHROMALUMA_LIBPYTHON" or the conf path
};

// The value of `key` in a conf text of `key = value` lines (# starts a comment); nullopt when absent.
std::optional<std::string> confValue(const std::string& text, const std::string& key);

// Contents/<arch> (the folder of the loaded plug-in binary, found from its own address) and Contents/Resources.
std::string bundleBinaryDir();
std::string bundleResourcesDir();

// The environment to use, or nullopt with `error` saying what is missing.
std::optional<PythonLocation> locatePython(const std::string& resourcesDir, std::string& error);

// "X.Y" of a venv (from pyvenv.cfg beside or above the executable), or empty when it is not a venv.
std::string venvPythonVersion(const std::string& python);

// The venv (or installation) prefix that holds `python`: its bin/ folder's parent.
std::string environmentPrefix(const std::string& python);

// Where libpython "X.Y" of the environment of `python` may be, most likely first (existing or not).
std::vector<std::string> libpythonCandidates(const std::string& python, const std::string& version);

// What to tell the user when Python cannot be used: the reason and exactly what to set.
std::string environmentHelp(const std::string& reason);
// The same when the environment's Python library (libpython "X.Y") cannot be loaded.
std::string libpythonHelp(const std::string& reason, const std::string& version);

// The path of a libpython of version "X.Y" loaded in this process (a host's), empty when none.
std::string loadedLibpython(const std::string& version);

// The path of a libpython loaded in this process whose version differs from "X.Y" (empty when none).
std::string foreignLibpython(const std::string& ourVersion);

// Re-open the already loaded shared library `path` with RTLD_GLOBAL | RTLD_NOLOAD so that Python extension
// modules (and the bridge module) can resolve Py* symbols from it (hosts load plug-ins, and may load their own
// libpython, RTLD_LOCAL). Returns false when it is not loaded.
bool promoteToGlobal(const std::string& path);

}  // namespace chromaluma
