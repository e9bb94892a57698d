// Loading the Python bridge at first use, and calling it (see Backend.h and PyBridge.h).
//
// Order matters, and nothing Python is touched before each step has checked the one before:
//   1 refuse when the host already runs another Python version (its Py* symbols would meet ours);
//   2 find the environment (chromaluma.conf / CHROMALUMA_PYTHON) and its Python version;
//   3 make libpython global: the host's when it already runs our version, else the environment's (RTLD_GLOBAL);
//   4 dlopen ChromalumaPython.so beside Chromaluma.ofx (its Py* references resolve against step 3);
//   5 start (or attach to) the interpreter and import chromaluma, through the bridge's C interface.
// A failure at any step is remembered (never retried) and shown by every instance.
#include "Backend.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <sys/stat.h>

#include "PyBridge.h"
#include "PythonEnvironment.h"

#ifndef CHROMALUMA_PYTHON_VERSION
#error "CHROMALUMA_PYTHON_VERSION (\"X.Y\", the Python the bridge module is built for) must be defined"
#endif
#ifndef CHROMALUMA_BRIDGE_FILE
#define CHROMALUMA_BRIDGE_FILE "ChromalumaPython.so"
#endif

namespace chromaluma {

std::string BackendError::userMessage() const {
    if (chromalumaError_) return std::string(what());
    if (type_ == "EnvironmentError") return std::string(what());
    return "The Chromaluma backend failed with " + type_ + ": " + what() + " (traceback in the host's log)";
}

std::string ModelReport::text() const {
    std::ostringstream out;
    out << (summary.empty() ? "(no model summary)" : summary) << "\n";
    out << "ONNX Runtime provider: " << (provider.empty() ? "unknown" : provider) << "\n";
    out << "receptive field: " << receptiveField << " px, processing scale: " << processingScale << "\n";
    out << windowText();
    if (const std::string repair = repairText(); !repair.empty()) out << "\n" << repair;
    if (const std::string keyframes = keyframesText(); !keyframes.empty()) out << "\n" << keyframes;
    for (const std::string& warning : warnings) out << "\nWARNING: " << warning;
    return out.str();
}

namespace bridge {
namespace {

constexpr const char* kPythonVersion = CHROMALUMA_PYTHON_VERSION;
constexpr const char* kBackendOverrideVar = "CHROMALUMA_PLUGIN_BACKEND";  // "file.py:function" or "module:function"

void logLine(const std::string& text) { std::cerr << "[Chromaluma Restore] " << text << std::endl; }

struct Loaded {
    std::once_flag once;
    bool ok = false;
    std::string why;
    ChromalumaBridgeDescribeFn describe = nullptr;
    ChromalumaBridgeProcessFn process = nullptr;
};

Loaded& loaded() {
    static Loaded l;
    return l;
}

// What one bridge call handed back. The callback runs inside the bridge: it must never throw.
struct Collected {
    std::string errorType, errorMessage, provider, summary, kind;
    std::vector<std::string> warnings;
    ChromalumaBridgeResult result{};
    Collected() {
        result.context = this;
        result.text = &Collected::take;
        result.processingScale = 1.0;
    }
    Collected(const Collected&) = delete;
    Collected& operator=(const Collected&) = delete;

    static void take(void* context, int which, const char* value) noexcept {
        try {
            auto* self = static_cast<Collected*>(context);
            const std::string text = value != nullptr ? value : "";
            switch (which) {
                case kChromalumaBridgeErrorType: self->errorType = text; break;
                case kChromalumaBridgeErrorMessage: self->errorMessage = text; break;
                case kChromalumaBridgeProvider: self->provider = text; break;
                case kChromalumaBridgeSummary: self->summary = text; break;
                case kChromalumaBridgeWarning: self->warnings.push_back(text); break;
                case kChromalumaBridgeKind: self->kind = text; break;
                default: break;
            }
        } catch (...) {  // out of memory while copying a message: the message is lost, the status is not
        }
    }
};

bool fileExists(const std::string& path) {
    struct stat info {};
    return stat(path.c_str(), &info) == 0;
}

std::string baseName(const std::string& path) {
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Step 3, when the host does not run Python: load the environment's libpython into the global scope.
bool loadLibpython(const PythonLocation& location, std::string& why) {
    const std::string version = kPythonVersion;
    const bool named = !location.libpython.empty();
    std::string path;
    if (named) {
        path = location.libpython;
        if (!fileExists(path)) {
            why = libpythonHelp("the Python library named by " + location.libpythonOrigin + " (" + path +
                                ") does not exist", version);
            return false;
        }
    } else {
        std::string looked;
        for (const std::string& candidate : libpythonCandidates(location.python, version)) {
            if (fileExists(candidate)) {
                path = candidate;
                break;
            }
            looked += (looked.empty() ? "" : ", ") + candidate;
        }
        if (path.empty()) {
            why = libpythonHelp("no libpython" + version + ".so found for " + location.python + " (looked for " +
                                looked + ")", version);
            return false;
        }
    }
    if (baseName(path).rfind("libpython" + version + ".", 0) != 0) {  // never load another version's symbols
        why = libpythonHelp(path + " is not a Python " + version + " library (the plug-in was built for Python " +
                            version + ")", version);
        return false;
    }
    if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {  // never dlclose'd: Python stays until exit
        const char* error = dlerror();
        why = libpythonHelp("loading " + path + " failed: " + (error != nullptr ? error : "unknown error"), version);
        return false;
    }
    logLine("using " + path + (named ? " (named by " + location.libpythonOrigin + ")" : ""));
    return true;
}

// Steps 1-3. `python` is set to the environment's executable when it is known.
bool makePythonGlobal(std::string& python, std::string& why) {
    const std::string version = kPythonVersion;
    const std::string foreign = foreignLibpython(version);
    if (!foreign.empty()) {
        why = environmentHelp("the host process already runs another Python (" + foreign + ") but this plug-in "
                              "was built for Python " + version + "; rebuild it with the host's Python "
                              "version (a venv made with PYTHON=python3.X)");
        return false;
    }
    std::string error;
    const std::optional<PythonLocation> location = locatePython(bundleResourcesDir(), error);
    if (location) python = location->python;
    // Python already in the global scope (a host linked with it, or one that loaded it RTLD_GLOBAL): use it.
    // Py_GetVersion may be called before the interpreter starts.
    using VersionFn = const char* (*)();
    if (auto hostVersion = reinterpret_cast<VersionFn>(dlsym(RTLD_DEFAULT, "Py_GetVersion"))) {
        const std::string running = hostVersion();
        if (running.rfind(version + ".", 0) == 0) return true;
        why = environmentHelp("the host process already runs Python " + running.substr(0, running.find(' ')) +
                              " but this plug-in was built for Python " + version + "; rebuild it with the host's "
                              "Python version (a venv made with PYTHON=python3.X)");
        return false;
    }
    const std::string hosts = loadedLibpython(version);
    if (!hosts.empty()) {  // the host runs our Python version: use its library (and interpreter), load no other
        if (!promoteToGlobal(hosts)) {
            why = environmentHelp("the host's " + hosts + " could not be made visible to Python modules");
            return false;
        }
        return true;
    }
    if (!location) {
        why = environmentHelp(error);
        return false;
    }
    const std::string venvVersion = venvPythonVersion(location->python);
    if (!venvVersion.empty() && venvVersion != version) {
        why = environmentHelp(location->python + " is Python " + venvVersion + " but the plug-in was built for " +
                              "Python " + version + " (" + location->origin + ")");
        return false;
    }
    return loadLibpython(*location, why);
}

template <class Fn>
bool resolve(void* module, const char* name, Fn& fn, std::string& why) {
    fn = reinterpret_cast<Fn>(dlsym(module, name));
    if (fn == nullptr) why = "the bridge module has no " + std::string(name) + " (a bundle from another build?)";
    return fn != nullptr;
}

// Steps 4-5.
bool startBridge(Loaded& l, const std::string& python, std::string& why) {
    const std::string path = bundleBinaryDir() + "/" + CHROMALUMA_BRIDGE_FILE;
    void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // never dlclose'd
    if (module == nullptr) {
        const char* error = dlerror();
        why = "the bundle's Python bridge " + path + " did not load (" + (error != nullptr ? error : "?") + ")";
        return false;
    }
    ChromalumaBridgeAbiFn abi = nullptr;
    ChromalumaBridgeStartFn start = nullptr;
    if (!resolve(module, "chromaluma_bridge_abi", abi, why) || !resolve(module, "chromaluma_bridge_start", start, why) ||
        !resolve(module, "chromaluma_bridge_describe", l.describe, why) ||
        !resolve(module, "chromaluma_bridge_process", l.process, why))
        return false;
    if (abi() != CHROMALUMA_BRIDGE_ABI_VERSION) {
        why = path + " is from another build of the plug-in (bridge interface " + std::to_string(abi()) + ", expected " +
              std::to_string(CHROMALUMA_BRIDGE_ABI_VERSION) + "); reinstall the whole bundle";
        return false;
    }
    const char* override = std::getenv(kBackendOverrideVar);
    const std::string site = python.empty() ? std::string()
                                            : environmentPrefix(python) + "/lib/python" + kPythonVersion + "/site-packages";
    const ChromalumaBridgeStart config{python.c_str(), site.c_str(), override != nullptr ? override : ""};
    Collected collected;
    if (start(&config, &collected.result) != kChromalumaBridgeOk) {
        why = collected.errorMessage.empty() ? "the Python bridge did not start" : collected.errorMessage;
        return false;
    }
    return true;
}

Loaded& ready() {
    Loaded& l = loaded();
    std::call_once(l.once, [&l] {
        try {
            std::string python, why;
            if (!makePythonGlobal(python, l.why)) return;
            if (!startBridge(l, python, why)) {
                l.why = environmentHelp(why);
                return;
            }
            l.ok = true;
        } catch (const std::exception& e) {
            l.why = environmentHelp(e.what());
        }
    });
    if (!l.ok) {
        static std::once_flag logged;
        std::call_once(logged, [&l] { logLine(l.why); });
        throw BackendError("EnvironmentError", l.why, false);
    }
    return l;
}

ChromalumaBridgeArray toBridge(const ArrayArg& a) {
    const TopDownLayout& l = a.layout;
    return ChromalumaBridgeArray{l.first,           l.height,      l.width,
                                 l.components,      l.rowStride,   l.pixelStride,
                                 l.componentStride, bytesPerComponent(a.depth), a.writable ? 1 : 0};
}

// The strings and the version array point into `p`, which outlives every call that uses the result.
ChromalumaBridgeParams toBridge(const BackendParams& p) {
    ChromalumaBridgeParams b{};
    b.model = p.model.c_str();
    b.mix = p.mix;
    b.device = p.device.c_str();
    b.tileSize = p.tileSize;
    b.outputMode = p.outputMode.c_str();
    b.premultiplied = p.premultiplied ? 1 : 0;
    b.windowX = p.windowX;
    b.windowY = p.windowY;
    b.originX = p.originX;
    b.originY = p.originY;
    b.keyframes = p.keyframes.c_str();
    b.frame = p.frame;
    b.frameWidth = p.frameWidth;
    b.frameHeight = p.frameHeight;
    b.sensitivity = p.sensitivity;
    b.precision = p.precision.c_str();
    b.renderLog = p.renderLog.c_str();
    b.hostName = p.host.name.c_str();
    b.hostLabel = p.host.label.c_str();
    b.hostVersionLabel = p.host.versionLabel.c_str();
    b.hostVersion = p.host.version.empty() ? nullptr : p.host.version.data();
    b.hostVersionCount = static_cast<int>(p.host.version.size());
    b.plugin = p.host.plugin.c_str();
    b.pluginVersionMajor = p.host.pluginMajor;
    b.pluginVersionMinor = p.host.pluginMinor;
    b.time = p.time;
    b.renderWindow[0] = p.renderWindow.x1;
    b.renderWindow[1] = p.renderWindow.y1;
    b.renderWindow[2] = p.renderWindow.x2;
    b.renderWindow[3] = p.renderWindow.y2;
    b.renderScale[0] = p.renderScaleX;
    b.renderScale[1] = p.renderScaleY;
    return b;
}

// The bridge's answer as a report, or the BackendError it stands for.
ModelReport finish(int status, Collected& c) {
    if (status != kChromalumaBridgeOk) {
        const bool environment = status == kChromalumaBridgeEnvironmentError || status == kChromalumaBridgeNotStarted;
        throw BackendError(environment ? "EnvironmentError" : (c.errorType.empty() ? "Exception" : c.errorType),
                           environment ? environmentHelp(c.errorMessage) : c.errorMessage,
                           status == kChromalumaBridgeChromalumaError);
    }
    ModelReport report;
    report.provider = std::move(c.provider);
    report.summary = std::move(c.summary);
    report.warnings = std::move(c.warnings);
    report.receptiveField = c.result.receptiveField;
    report.processingScale = c.result.processingScale;
    report.framesBefore = c.result.framesBefore;
    report.framesAfter = c.result.framesAfter;
    report.kind = std::move(c.kind);
    report.hasMatte = c.result.hasMatte != 0;
    const int count = std::clamp(c.result.keyframeCount, 0, CHROMALUMA_BRIDGE_MAX_KEYFRAMES);
    report.keyframes.assign(c.result.keyframeFrames, c.result.keyframeFrames + count);
    report.keyframeDistances.assign(c.result.keyframeDistances, c.result.keyframeDistances + count);
    return report;
}

}  // namespace

bool available(std::string& why) {
    try {
        ready();
        return true;
    } catch (const BackendError& e) {
        why = e.what();
        return false;
    }
}

ModelReport describe(const BackendParams& params) {
    const Loaded& l = ready();
    const ChromalumaBridgeParams p = toBridge(params);
    Collected collected;
    return finish(l.describe(&p, &collected.result), collected);
}

ModelReport process(const ArrayArg& src, const ArrayArg& dst, const ArrayArg* mask,
                    const std::vector<NeighbourArg>& neighbours, const BackendParams& params) {
    const Loaded& l = ready();
    const ChromalumaBridgeParams p = toBridge(params);
    const ChromalumaBridgeArray s = toBridge(src), d = toBridge(dst);
    std::optional<ChromalumaBridgeArray> m;
    if (mask != nullptr) m = toBridge(*mask);
    std::vector<ChromalumaBridgeArray> n;  // a missing frame is an entry with first == NULL (Python None)
    n.reserve(neighbours.size());
    for (const NeighbourArg& frame : neighbours) n.push_back(frame ? toBridge(*frame) : ChromalumaBridgeArray{});
    Collected collected;
    return finish(l.process(&s, &d, m ? &*m : nullptr, n.empty() ? nullptr : n.data(), static_cast<int>(n.size()), &p,
                            &collected.result),
                  collected);
}

}  // namespace bridge
}  // namespace chromaluma
