// Where the plug-in's Python environment is, decided before any Python is started (no Python headers here).
//
// The environment is named by the path of its python executable (a venv's bin/python): the environment
// variable CHROMALUMA_PYTHON if set, else the `python = ...` line of Contents/Resources/chromaluma.conf, written
// by the build (build tree) and by scripts/install_plugin.sh (installed bundle).
#pragma once

#include <optional>
#include <string>

namespace chromaluma {

inline constexpr const char* kPythonEnvVar = "CHROMALUMA_PYTHON";
inline constexpr const char* kConfFileName = "chromaluma.conf";

struct PythonLocation {
    std::string python;  // path of the environment's python executable
    std::string origin;  // where the path came from, for messages ("CHROMALUMA_PYTHON", or the conf file path)
};

// The value of `key` in a conf text of `key = value` lines (# starts a comment); nullopt when absent.
std::optional<std::string> confValue(const std::string& text, const std::string& key);

// Contents/Resources of the bundle holding the loaded plug-in binary (found from its own address).
std::string bundleResourcesDir();

// The environment to use, or nullopt with `error` saying what is missing.
std::optional<PythonLocation> locatePython(const std::string& resourcesDir, std::string& error);

// "X.Y" of a venv (from pyvenv.cfg beside or above the executable), or empty when it is not a venv.
std::string venvPythonVersion(const std::string& python);

// The venv (or installation) prefix that holds `python`: its bin/ folder's parent.
std::string environmentPrefix(const std::string& python);

// What to tell the user when Python cannot be used: the reason and exactly what to set.
std::string environmentHelp(const std::string& reason);

// The path of a libpython loaded in this process whose version differs from "X.Y" (empty when none).
std::string foreignLibpython(const std::string& ourVersion);

// Re-open the shared library containing `symbol` with RTLD_GLOBAL | RTLD_NOLOAD so that Python extension
// modules can resolve Py* symbols (hosts load plug-ins RTLD_LOCAL). Returns false when it is not a shared object.
bool promoteToGlobal(const void* symbol, std::string& libraryPath);

}  // namespace chromaluma
