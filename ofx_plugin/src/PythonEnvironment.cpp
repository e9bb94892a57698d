#include "PythonEnvironment.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <sys/stat.h>

namespace chromaluma {
namespace {

#if defined(__x86_64__)
constexpr const char* kMultiarch = "x86_64-linux-gnu";  // Debian/Ubuntu put libpython under lib/<multiarch>
#elif defined(__aarch64__)
constexpr const char* kMultiarch = "aarch64-linux-gnu";
#else
constexpr const char* kMultiarch = "";
#endif

std::string trim(const std::string& s) {
    const auto begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) return {};
    const auto end = s.find_last_not_of(" \t\r\n");
    return s.substr(begin, end - begin + 1);
}

std::string parentDir(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

bool isExecutableFile(const std::string& path) {
    struct stat info {};
    return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && (info.st_mode & S_IXUSR) != 0;
}

std::optional<std::string> readFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The path of the first shared object loaded in this process whose file name passes `matches`, or "".
std::string firstLoadedLibrary(const std::function<bool(const std::string& base)>& matches) {
    struct Search {
        const std::function<bool(const std::string&)>* matches;
        std::string found;
    } search{&matches, {}};
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) -> int {
            auto* s = static_cast<Search*>(data);
            const std::string name = info->dlpi_name != nullptr ? info->dlpi_name : "";
            const auto slash = name.find_last_of('/');
            if (!(*s->matches)(slash == std::string::npos ? name : name.substr(slash + 1))) return 0;
            s->found = name;
            return 1;
        },
        &search);
    return search.found;
}

}  // namespace

std::optional<std::string> confValue(const std::string& text, const std::string& key) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        const auto hash = line.find('#');
        if (hash != std::string::npos) line.resize(hash);
        const auto eq = line.find('=');
        if (eq == std::string::npos || trim(line.substr(0, eq)) != key) continue;
        return trim(line.substr(eq + 1));
    }
    return std::nullopt;
}

std::string bundleBinaryDir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<const void*>(&bundleBinaryDir), &info) == 0 || info.dli_fname == nullptr) return {};
    return parentDir(info.dli_fname);  // .../Chromaluma.ofx.bundle/Contents/Linux-x86-64
}

std::string bundleResourcesDir() {
    const std::string binaryDir = bundleBinaryDir();
    return binaryDir.empty() ? std::string() : parentDir(binaryDir) + "/Resources";
}

std::optional<PythonLocation> locatePython(const std::string& resourcesDir, std::string& error) {
    PythonLocation location;
    if (const char* env = std::getenv(kPythonEnvVar); env != nullptr && *env != '\0') {
        location = {env, std::string(kPythonEnvVar), {}, {}};
    } else {
        const std::string conf = resourcesDir + "/" + kConfFileName;
        const auto text = readFile(conf);
        const auto python = text ? confValue(*text, "python") : std::nullopt;
        if (!python || python->empty()) {
            error = text ? conf + " has no `python = /path/to/venv/bin/python` line" : conf + " is missing";
            return std::nullopt;
        }
        location = {*python, conf, confValue(*text, "libpython").value_or(""), conf};
    }
    if (const char* env = std::getenv(kLibpythonEnvVar); env != nullptr && *env != '\0') {
        location.libpython = env;
        location.libpythonOrigin = kLibpythonEnvVar;
    }
    if (!isExecutableFile(location.python)) {
        error = "the Python named by " + location.origin + " (" + location.python + ") is not an executable file";
        return std::nullopt;
    }
    return location;
}

std::string venvPythonVersion(const std::string& python) {
    const std::string bin = parentDir(python);
    for (const std::string& dir : {bin, parentDir(bin)}) {
        if (const auto text = readFile(dir + "/pyvenv.cfg")) {
            const auto version = confValue(*text, "version").value_or(confValue(*text, "version_info").value_or(""));
            const auto dot = version.find('.', version.find('.') + 1);
            return dot == std::string::npos ? version : version.substr(0, dot);
        }
    }
    return {};
}

std::string environmentPrefix(const std::string& python) { return parentDir(parentDir(python)); }

std::vector<std::string> libpythonCandidates(const std::string& python, const std::string& version) {
    std::vector<std::string> prefixes;
    const auto add = [&prefixes](const std::string& prefix) {
        if (!prefix.empty() && std::find(prefixes.begin(), prefixes.end(), prefix) == prefixes.end())
            prefixes.push_back(prefix);
    };
    const std::string bin = parentDir(python);
    for (const std::string& dir : {bin, parentDir(bin)}) {  // a venv: its base installation's prefix
        if (const auto text = readFile(dir + "/pyvenv.cfg")) {
            if (const auto home = confValue(*text, "home")) add(parentDir(*home));
            break;
        }
    }
    if (char* real = realpath(python.c_str(), nullptr)) {  // bin/python may link into the base installation
        add(environmentPrefix(real));
        std::free(real);
    }
    add(environmentPrefix(python));
    std::vector<std::string> candidates;
    for (const std::string& prefix : prefixes) {
        for (const std::string& lib : {prefix + "/lib", prefix + "/lib64", prefix + "/lib/" + kMultiarch}) {
            candidates.push_back(lib + "/libpython" + version + ".so.1.0");
            candidates.push_back(lib + "/libpython" + version + ".so");
        }
    }
    return candidates;
}

std::string environmentHelp(const std::string& reason) {
    return "Chromaluma cannot use its Python environment: " + reason +
           ". Set CHROMALUMA_PYTHON=/path/to/venv/bin/python (a Python environment with chromaluma installed) "
           "in the host's environment, or re-run `make install-plugin`, then restart the host.";
}

std::string libpythonHelp(const std::string& reason, const std::string& version) {
    return "Chromaluma cannot load the Python library of its environment: " + reason +
           ". Set CHROMALUMA_LIBPYTHON=/path/to/libpython" + version + ".so.1.0 (the shared library of the Python " +
           version + " that environment was made from; a Python built with --enable-shared) or " +
           "CHROMALUMA_PYTHON=/path/to/venv/bin/python in the host's environment, or re-run `make install-plugin`, "
           "then restart the host.";
}

std::string loadedLibpython(const std::string& version) {
    const std::string wanted = "libpython" + version + ".";  // "3.1" must not pass for "3.11"
    return firstLoadedLibrary([&](const std::string& base) {
        return base.rfind(wanted, 0) == 0 && base.find(".so") != std::string::npos;
    });
}

std::string foreignLibpython(const std::string& ourVersion) {
    const std::string ours = "libpython" + ourVersion + ".";
    return firstLoadedLibrary([&](const std::string& base) {
        const bool isLibpython = base.rfind("libpython3", 0) == 0 && base.find(".so") != std::string::npos;
        return isLibpython && base.rfind(ours, 0) != 0 && base.rfind("libpython3.so", 0) != 0;
    });
}

bool promoteToGlobal(const std::string& path) {
    // RTLD_NOLOAD: only raise the already loaded library to global scope; never load a second copy.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    return handle != nullptr;  // deliberately never dlclose'd: Python stays loaded until process exit
}

}  // namespace chromaluma
