// The Python bridge module ChromalumaPython.so: the only file that includes pybind11 or Python headers.
//
// Built without linking libpython: its Py* references resolve against the libpython that Chromaluma.ofx made
// global before loading this module (see PyBridge.h). One interpreter per process, started on first use, or the
// host's when it already runs one; the GIL is released right after start and taken per call; the interpreter is
// never finalized (third-party modules stay loaded until process exit, see STYLE.md). Nothing is thrown across
// the extern "C" functions at the end of this file.
#include "PyBridge.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

void logLine(const std::string& text) { std::cerr << "[Chromaluma Restore] " << text << std::endl; }

// Holds the GIL for a scope (works for our interpreter and for a host's: PyGILState_Ensure).
class Gil {
public:
    Gil() : state_(PyGILState_Ensure()) {}
    ~Gil() { PyGILState_Release(state_); }
    Gil(const Gil&) = delete;
    Gil& operator=(const Gil&) = delete;

private:
    PyGILState_STATE state_;
};

// Python objects live until process exit: they are never destroyed (destroying needs the GIL at exit).
// Written once by start() (the plug-in calls it once, before any describe/process), read-only afterwards.
struct State {
    bool started = false;
    bool ok = false;
    py::object* process = nullptr;
    py::object* readContract = nullptr;
    py::object* chromalumaError = nullptr;
};

State& state() {
    static State s;
    return s;
}

void say(ChromalumaBridgeResult* result, int which, const std::string& text) {
    if (result != nullptr && result->text != nullptr) result->text(result->context, which, text.c_str());
}

int fail(ChromalumaBridgeResult* result, int status, const std::string& type, const std::string& message) {
    say(result, kChromalumaBridgeErrorType, type);
    say(result, kChromalumaBridgeErrorMessage, message);
    return status;
}

std::string pythonVersion() { return std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION); }

// Start our own interpreter for the environment of `python`. On success the GIL is released.
bool startOwnInterpreter(const std::string& python, std::string& why) {
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);  // ignores PYTHONHOME/PYTHONPATH of the host; no signal handlers
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, python.c_str());
    if (!PyStatus_Exception(status)) status = PyConfig_SetBytesString(&config, &config.executable, python.c_str());
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        why = "Python " + pythonVersion() + " did not start from " + python + " (" +
              (status.err_msg != nullptr ? status.err_msg : "unknown error") + ")";
        return false;
    }
    PyEval_SaveThread();  // release the GIL: every call takes it (never finalized, see STYLE.md)
    return true;
}

py::object loadOverride(const std::string& spec) {
    const auto colon = spec.rfind(':');
    const std::string target = spec.substr(0, colon), name = colon == std::string::npos ? "process" : spec.substr(colon + 1);
    py::object module;
    if (target.size() > 3 && target.compare(target.size() - 3, 3, ".py") == 0) {
        py::module_ util = py::module_::import("importlib.util");
        py::object spec_ = util.attr("spec_from_file_location")("chromaluma_plugin_backend", target);
        module = util.attr("module_from_spec")(spec_);
        spec_.attr("loader").attr("exec_module")(module);
    } else {
        module = py::module_::import(target.c_str());
    }
    return module.attr(name.c_str());
}

// Import the backend (with the GIL held). In a host's interpreter, add our environment's site-packages first.
void importBackend(State& s, const ChromalumaBridgeStart& config, bool attached) {
    if (attached && *config.sitePackages != '\0') py::module_::import("site").attr("addsitedir")(config.sitePackages);
    py::module_::import("numpy");
    s.chromalumaError = new py::object(py::module_::import("chromaluma.errors").attr("ChromalumaError"));
    s.readContract = new py::object(py::module_::import("chromaluma.contract").attr("read_model_contract"));
    if (*config.backendOverride != '\0') {
        logLine(std::string("using the backend named by CHROMALUMA_PLUGIN_BACKEND: ") + config.backendOverride);
        s.process = new py::object(loadOverride(config.backendOverride));
    } else {
        s.process = new py::object(py::module_::import("chromaluma.api").attr("process"));
    }
}

int start(const ChromalumaBridgeStart& config, ChromalumaBridgeResult* result) {
    State& s = state();
    if (s.started) return s.ok ? kChromalumaBridgeOk : fail(result, kChromalumaBridgeNotStarted, "EnvironmentError",
                                                               "the Python bridge failed to start earlier");
    s.started = true;
    const bool attached = Py_IsInitialized() != 0;
    const std::string python = config.python;
    if (!attached) {
        std::string why;
        if (!startOwnInterpreter(python, why)) return fail(result, kChromalumaBridgeEnvironmentError, "EnvironmentError", why);
    } else {
        logLine("using the host's Python interpreter");
    }
    Gil gil;
    try {
        importBackend(s, config, attached);
        s.ok = true;
        return kChromalumaBridgeOk;
    } catch (py::error_already_set& e) {
        return fail(result, kChromalumaBridgeEnvironmentError, "EnvironmentError",
                    "importing chromaluma in " + (attached || python.empty() ? std::string("the host's Python") : python) +
                        " failed: " + std::string(py::str(e.type().attr("__name__"))) + ": " + std::string(py::str(e.value())));
    }
}

// With the GIL held: report the Python exception in flight; tracebacks of unexpected ones go to stderr.
int reportException(const State& s, py::error_already_set& e, ChromalumaBridgeResult* result) {
    std::string type = "Exception", message;
    try {
        type = py::str(e.type().attr("__name__"));
        message = py::str(e.value());
    } catch (const std::exception&) {
        message = e.what();
    }
    const bool ours = s.chromalumaError != nullptr && PyObject_IsInstance(e.value().ptr(), s.chromalumaError->ptr()) == 1;
    if (!ours) {
        try {
            py::module_::import("traceback").attr("print_exception")(e.type(), e.value(), e.trace());
        } catch (const std::exception&) {
            logLine(e.what());
        }
    }
    return fail(result, ours ? kChromalumaBridgeChromalumaError : kChromalumaBridgePythonError, type, message);
}

py::dtype dtypeOf(int bytesPerComponent) {
    switch (bytesPerComponent) {
        case 1: return py::dtype::of<std::uint8_t>();
        case 2: return py::dtype::of<std::uint16_t>();
        case 4: return py::dtype::of<float>();
        default: break;
    }
    throw std::invalid_argument("unsupported pixel depth");
}

// A numpy view of host memory with explicit strides. `base` is the owner numpy records, so nothing is copied.
py::array makeArray(const ChromalumaBridgeArray& a, const py::capsule& base) {
    std::vector<py::ssize_t> shape{a.height, a.width, a.components};
    std::vector<py::ssize_t> strides{a.rowStride, a.pixelStride, a.componentStride};
    py::array array(dtypeOf(a.bytesPerComponent), shape, strides, a.first, base);
    if (a.writable == 0) array.attr("setflags")(py::arg("write") = false);
    return array;
}

// params["host_render"]: who renders and what the host asked, for the Render Log's record (PyBridge.h).
py::dict makeHostRender(const ChromalumaBridgeParams& p) {
    py::list version;
    for (int i = 0; p.hostVersion != nullptr && i < p.hostVersionCount; ++i) version.append(p.hostVersion[i]);
    py::dict host;
    host["name"] = p.hostName != nullptr ? p.hostName : "";
    host["label"] = p.hostLabel != nullptr ? p.hostLabel : "";
    host["version"] = version;
    host["version_label"] = p.hostVersionLabel != nullptr ? p.hostVersionLabel : "";
    py::dict plugin;
    plugin["identifier"] = p.plugin != nullptr ? p.plugin : "";
    plugin["version"] = std::to_string(p.pluginVersionMajor) + "." + std::to_string(p.pluginVersionMinor);
    plugin["bridge_abi"] = CHROMALUMA_BRIDGE_ABI_VERSION;
    py::dict request;
    request["host"] = host;
    request["plugin"] = plugin;
    request["time"] = p.time;
    request["render_window"] = py::make_tuple(p.renderWindow[0], p.renderWindow[1], p.renderWindow[2], p.renderWindow[3]);
    request["render_scale"] = py::make_tuple(p.renderScale[0], p.renderScale[1]);
    return request;
}

py::dict makeParams(const ChromalumaBridgeParams& p) {
    py::dict params;
    params["model"] = p.model;
    params["mix"] = p.mix;
    params["mask"] = py::none();
    params["device"] = p.device;
    params["tile_size"] = p.tileSize;
    params["output_mode"] = p.outputMode;
    params["sensitivity"] = p.sensitivity;
    params["precision"] = p.precision != nullptr ? p.precision : "fp32";
    params["premultiplied"] = p.premultiplied != 0;
    params["window"] = py::make_tuple(p.windowX, p.windowY);
    params["frame_origin"] = py::make_tuple(p.originX, p.originY);
    if (p.keyframes != nullptr && *p.keyframes != '\0') {  // the folder form: Python reads the folder
        params["keyframes"] = p.keyframes;
        params["frame"] = p.frame;
        if (p.frameWidth > 0 && p.frameHeight > 0) params["frame_size"] = py::make_tuple(p.frameWidth, p.frameHeight);
    }
    if (p.renderLog != nullptr && *p.renderLog != '\0') {  // the backend appends this render's record there
        params["render_log"] = p.renderLog;
        params["host_render"] = makeHostRender(p);
    }
    return params;
}

// RenderReport.keyframes / .keyframe_distances (absent from reports of other versions: none listed).
void readKeyframes(const py::object& report, ChromalumaBridgeResult* result) {
    result->keyframeCount = 0;
    if (!py::hasattr(report, "keyframes") || !py::hasattr(report, "keyframe_distances")) return;
    const py::list frames(report.attr("keyframes")), distances(report.attr("keyframe_distances"));
    const size_t count = std::min({frames.size(), distances.size(), size_t{CHROMALUMA_BRIDGE_MAX_KEYFRAMES}});
    for (size_t i = 0; i < count; ++i) {
        result->keyframeFrames[i] = frames[i].cast<int>();
        result->keyframeDistances[i] = distances[i].cast<int>();
    }
    result->keyframeCount = static_cast<int>(count);
}

// Hands the RenderReport that process() returned (docs/CONTRACT.md §1.5) to the caller; true when it held the
// model's receptive field, processing scale and window. A backend override may return None (test backends do).
bool readReport(const py::object& report, ChromalumaBridgeResult* result) {
    if (report.is_none()) return false;
    auto has = [&report](const char* name) { return py::hasattr(report, name); };
    if (has("provider")) say(result, kChromalumaBridgeProvider, py::str(report.attr("provider")));
    if (has("model_summary")) say(result, kChromalumaBridgeSummary, py::str(report.attr("model_summary")));
    if (has("warnings"))
        for (py::handle w : report.attr("warnings")) say(result, kChromalumaBridgeWarning, py::str(w));
    if (has("kind")) say(result, kChromalumaBridgeKind, py::str(report.attr("kind")));
    if (result != nullptr) {
        readKeyframes(report, result);
        result->hasMatte = has("has_matte") && py::bool_(report.attr("has_matte")) ? 1 : 0;
    }
    const bool complete = has("receptive_field") && has("processing_scale") && has("frames_before") &&
                          has("frames_after");
    if (complete && result != nullptr) {
        result->receptiveField = report.attr("receptive_field").cast<int>();
        result->processingScale = report.attr("processing_scale").cast<double>();
        result->framesBefore = report.attr("frames_before").cast<int>();
        result->framesAfter = report.attr("frames_after").cast<int>();
    }
    return complete;
}

int describe(const ChromalumaBridgeParams& params, ChromalumaBridgeResult* result) {
    const State& s = state();
    if (!s.ok) return fail(result, kChromalumaBridgeNotStarted, "EnvironmentError", "the Python bridge is not started");
    Gil gil;
    try {
        const py::object report = (*s.process)(py::none(), py::none(), makeParams(params));
        // api.process returns the model's description (docs/CONTRACT.md §1.5); a backend override that returns
        // nothing is asked nothing more: the model's metadata is read through chromaluma.contract instead.
        if (!readReport(report, result) && result != nullptr) {
            const py::object contract = (*s.readContract)(params.model);
            result->receptiveField = contract.attr("receptive_field").cast<int>();
            result->processingScale = contract.attr("processing_scale").cast<double>();
            result->framesBefore = contract.attr("frames_before").cast<int>();
            result->framesAfter = contract.attr("frames_after").cast<int>();
            say(result, kChromalumaBridgeKind, py::str(contract.attr("kind")));
        }
        return kChromalumaBridgeOk;
    } catch (py::error_already_set& e) {
        return reportException(s, e, result);
    }
}

// params["neighbours"]: one numpy view per entry, None where the host had no frame (docs/CONTRACT.md §1.6).
py::list makeNeighbours(const ChromalumaBridgeArray* neighbours, int count, const py::capsule& base) {
    py::list list;
    for (int i = 0; i < count; ++i) {
        if (neighbours[i].first == nullptr) list.append(py::none());
        else list.append(makeArray(neighbours[i], base));
    }
    return list;
}

int process(const ChromalumaBridgeArray& src, const ChromalumaBridgeArray& dst, const ChromalumaBridgeArray* mask,
            const ChromalumaBridgeArray* neighbours, int neighbourCount, const ChromalumaBridgeParams& params,
            ChromalumaBridgeResult* result) {
    const State& s = state();
    if (!s.ok) return fail(result, kChromalumaBridgeNotStarted, "EnvironmentError", "the Python bridge is not started");
    if (neighbourCount < 0 || (neighbourCount > 0 && neighbours == nullptr))
        return fail(result, kChromalumaBridgePythonError, "RuntimeError", "the bridge was given no neighbour array");
    Gil gil;
    try {
        // The capsule stands for "memory owned by the host": numpy keeps it as the arrays' base, never copies.
        py::capsule hostMemory(src.first, [](void*) {});
        {
            py::dict p = makeParams(params);
            if (mask != nullptr) p["mask"] = makeArray(*mask, hostMemory);
            if (neighbourCount > 0) p["neighbours"] = makeNeighbours(neighbours, neighbourCount, hostMemory);
            py::array srcArray = makeArray(src, hostMemory);
            py::array dstArray = makeArray(dst, hostMemory);
            const py::object report = (*s.process)(srcArray, dstArray, p);
            readReport(report, result);
        }
        if (hostMemory.ref_count() > 1)  // the backend kept a view of host memory beyond the call: a bug there
            logLine("warning: the backend kept a reference to the host's pixels after process() returned");
        return kChromalumaBridgeOk;
    } catch (py::error_already_set& e) {
        return reportException(s, e, result);
    }
}

// The last line of defence at the C boundary: whatever escaped becomes a status and a message.
template <class Body>
int guarded(ChromalumaBridgeResult* result, Body&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return fail(result, kChromalumaBridgePythonError, "MemoryError", "out of memory in the Python bridge");
    } catch (const std::exception& e) {
        return fail(result, kChromalumaBridgePythonError, "RuntimeError", e.what());
    } catch (...) {
        return fail(result, kChromalumaBridgePythonError, "RuntimeError", "unknown error in the Python bridge");
    }
}

}  // namespace

#define CHROMALUMA_BRIDGE_EXPORT extern "C" __attribute__((visibility("default")))

CHROMALUMA_BRIDGE_EXPORT int chromaluma_bridge_abi(void) { return CHROMALUMA_BRIDGE_ABI_VERSION; }

CHROMALUMA_BRIDGE_EXPORT int chromaluma_bridge_start(const ChromalumaBridgeStart* config, ChromalumaBridgeResult* result) {
    return guarded(result, [&] { return start(*config, result); });
}

CHROMALUMA_BRIDGE_EXPORT int chromaluma_bridge_describe(const ChromalumaBridgeParams* params,
                                                        ChromalumaBridgeResult* result) {
    return guarded(result, [&] { return describe(*params, result); });
}

CHROMALUMA_BRIDGE_EXPORT int chromaluma_bridge_process(const ChromalumaBridgeArray* src, const ChromalumaBridgeArray* dst,
                                                       const ChromalumaBridgeArray* mask,
                                                       const ChromalumaBridgeArray* neighbours, int neighbourCount,
                                                       const ChromalumaBridgeParams* params,
                                                       ChromalumaBridgeResult* result) {
    return guarded(result, [&] { return process(*src, *dst, mask, neighbours, neighbourCount, *params, result); });
}
