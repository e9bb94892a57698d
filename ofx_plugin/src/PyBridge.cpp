// The only C++ file that includes pybind11 (see PyBridge.h for the threading model).
#include "PyBridge.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>

#include "PythonEnvironment.h"

namespace py = pybind11;

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
    out << "receptive field: " << receptiveField << " px, processing scale: " << processingScale;
    for (const std::string& warning : warnings) out << "\nWARNING: " << warning;
    return out.str();
}

namespace bridge {
namespace {

constexpr const char* kBackendOverrideVar = "CHROMALUMA_PLUGIN_BACKEND";  // "file.py:function" or "module:function"

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
struct State {
    std::once_flag once;
    bool ok = false;
    std::string why;
    std::string python;  // the environment's executable, when known
    py::object* process = nullptr;
    py::object* readContract = nullptr;
    py::object* chromalumaError = nullptr;
};

State& state() {
    static State s;
    return s;
}

std::string pythonVersion() { return std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION); }

// Start our own interpreter from the configured environment. On success the GIL is released.
bool startOwnInterpreter(State& s) {
    std::string error;
    const auto location = locatePython(bundleResourcesDir(), error);
    if (!location) {
        s.why = environmentHelp(error);
        return false;
    }
    s.python = location->python;
    const std::string venvVersion = venvPythonVersion(location->python);
    if (!venvVersion.empty() && venvVersion != pythonVersion()) {
        s.why = environmentHelp(location->python + " is Python " + venvVersion + " but the plug-in was built for " +
                                "Python " + pythonVersion() + " (" + location->origin + ")");
        return false;
    }
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);  // ignores PYTHONHOME/PYTHONPATH of the host; no signal handlers
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, location->python.c_str());
    if (!PyStatus_Exception(status))
        status = PyConfig_SetBytesString(&config, &config.executable, location->python.c_str());
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        s.why = environmentHelp("Python " + pythonVersion() + " did not start from " + location->python + " (" +
                                (status.err_msg != nullptr ? status.err_msg : "unknown error") + ")");
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
void importBackend(State& s, bool attached) {
    if (attached && !s.python.empty()) {
        const std::string site = environmentPrefix(s.python) + "/lib/python" + pythonVersion() + "/site-packages";
        py::module_::import("site").attr("addsitedir")(site);
    }
    py::module_::import("numpy");
    s.chromalumaError = new py::object(py::module_::import("chromaluma.errors").attr("ChromalumaError"));
    s.readContract = new py::object(py::module_::import("chromaluma.contract").attr("read_model_contract"));
    const char* override = std::getenv(kBackendOverrideVar);
    if (override != nullptr && *override != '\0') {
        logLine(std::string("using the backend named by ") + kBackendOverrideVar + ": " + override);
        s.process = new py::object(loadOverride(override));
    } else {
        s.process = new py::object(py::module_::import("chromaluma.api").attr("process"));
    }
}

void start(State& s) {
    // First, before calling any Py* function: a host that loaded another Python version (Nuke, Natron) puts its
    // libpython in the global scope, so our Py* references may bind to it. Refuse rather than mix two ABIs.
    const std::string foreign = foreignLibpython(pythonVersion());
    if (!foreign.empty()) {
        s.why = environmentHelp("the host process already runs another Python (" + foreign + ") but this plug-in "
                                "was built for Python " + pythonVersion() + "; rebuild it with the host's Python "
                                "version (a venv made with PYTHON=python3.X)");
        return;
    }
    std::string library;
    promoteToGlobal(reinterpret_cast<const void*>(&Py_IsInitialized), library);
    const bool attached = Py_IsInitialized() != 0;
    if (!attached) {
        if (!startOwnInterpreter(s)) return;
    } else {
        std::string ignored;
        if (auto location = locatePython(bundleResourcesDir(), ignored)) s.python = location->python;
        logLine("using the host's Python interpreter");
    }
    Gil gil;
    try {
        importBackend(s, attached);
        s.ok = true;
    } catch (py::error_already_set& e) {
        s.why = environmentHelp("importing chromaluma in " + (s.python.empty() ? "the host's Python" : s.python) +
                                " failed: " + std::string(py::str(e.type().attr("__name__"))) + ": " +
                                std::string(py::str(e.value())));
    } catch (const std::exception& e) {
        s.why = environmentHelp(std::string("importing chromaluma failed: ") + e.what());
    }
}

State& ready() {
    State& s = state();
    std::call_once(s.once, [&s] {
        try {
            start(s);
        } catch (const std::exception& e) {
            s.why = environmentHelp(e.what());
        }
        if (!s.ok) logLine(s.why);
    });
    if (!s.ok) throw BackendError("EnvironmentError", s.why, false);
    return s;
}

// With the GIL held: the Python exception in flight as a BackendError; tracebacks of unexpected ones go to stderr.
BackendError toBackendError(State& s, py::error_already_set& e) {
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
    return BackendError(type, message, ours);
}

py::dtype dtypeOf(BitDepth depth) {
    switch (depth) {
        case BitDepth::Byte: return py::dtype::of<std::uint8_t>();
        case BitDepth::Short: return py::dtype::of<std::uint16_t>();
        case BitDepth::Float: return py::dtype::of<float>();
        case BitDepth::None: break;
    }
    throw std::invalid_argument("unsupported pixel depth");
}

// A numpy view of host memory with explicit strides. `base` is the owner numpy records, so nothing is copied.
py::array makeArray(const ArrayArg& a, const py::capsule& base) {
    const TopDownLayout& l = a.layout;
    std::vector<py::ssize_t> shape{l.height, l.width, l.components};
    std::vector<py::ssize_t> strides{l.rowStride, l.pixelStride, l.componentStride};
    py::array array(dtypeOf(a.depth), shape, strides, l.first, base);
    if (!a.writable) array.attr("setflags")(py::arg("write") = false);
    return array;
}

py::dict makeParams(const BackendParams& p) {
    py::dict params;
    params["model"] = p.model;
    params["mix"] = p.mix;
    params["mask"] = py::none();
    params["device"] = p.device;
    params["tile_size"] = p.tileSize;
    params["output_mode"] = p.outputMode;
    params["premultiplied"] = p.premultiplied;
    params["window"] = py::make_tuple(p.windowX, p.windowY);
    params["frame_origin"] = py::make_tuple(p.originX, p.originY);
    params["report"] = py::dict();
    return params;
}

ModelReport readReport(const py::dict& params) {
    ModelReport report;
    const py::dict r = params["report"].cast<py::dict>();
    if (r.contains("provider")) report.provider = py::str(r["provider"]);
    if (r.contains("model_summary")) report.summary = py::str(r["model_summary"]);
    if (r.contains("warnings"))
        for (py::handle w : r["warnings"]) report.warnings.emplace_back(py::str(w));
    if (r.contains("receptive_field")) report.receptiveField = r["receptive_field"].cast<int>();
    if (r.contains("processing_scale")) report.processingScale = r["processing_scale"].cast<double>();
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
    State& s = ready();
    Gil gil;
    try {
        py::dict p = makeParams(params);
        (*s.process)(py::none(), py::none(), p);
        ModelReport report = readReport(p);
        // api.process reports the receptive field and processing scale (docs/CONTRACT.md §3); a backend that does
        // not is asked nothing more: the model's metadata is read through chromaluma.contract instead.
        const py::dict filled = p["report"].cast<py::dict>();
        if (!filled.contains("receptive_field") || !filled.contains("processing_scale")) {
            const py::object contract = (*s.readContract)(params.model);
            report.receptiveField = contract.attr("receptive_field").cast<int>();
            report.processingScale = contract.attr("processing_scale").cast<double>();
        }
        return report;
    } catch (py::error_already_set& e) {
        throw toBackendError(s, e);
    }
}

ModelReport process(const ArrayArg& src, const ArrayArg& dst, const ArrayArg* mask, const BackendParams& params) {
    State& s = ready();
    Gil gil;
    try {
        // The capsule stands for "memory owned by the host": numpy keeps it as the arrays' base, never copies.
        py::capsule hostMemory(src.layout.first, [](void*) {});
        ModelReport report;
        {
            py::dict p = makeParams(params);
            if (mask != nullptr) p["mask"] = makeArray(*mask, hostMemory);
            py::array srcArray = makeArray(src, hostMemory);
            py::array dstArray = makeArray(dst, hostMemory);
            (*s.process)(srcArray, dstArray, p);
            report = readReport(p);
        }
        if (hostMemory.ref_count() > 1)  // the backend kept a view of host memory beyond the call: a bug there
            logLine("warning: the backend kept a reference to the host's pixels after process() returned");
        return report;
    } catch (py::error_already_set& e) {
        throw toBackendError(s, e);
    }
}

}  // namespace bridge
}  // namespace chromaluma
