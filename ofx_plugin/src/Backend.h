// The backend as the OFX side sees it: chromaluma.api.process (docs/CONTRACT.md §1) behind plain C++ types.
//
// Backend.cpp finds the Python environment, loads that Python's libpython and the bridge module
// (Contents/Linux-x86-64/ChromalumaPython.so, PyBridge.cpp) on first use, and calls the bridge's C interface
// (PyBridge.h). Chromaluma.ofx itself never links libpython, so a host always loads and lists the effect; when
// Python cannot be used, every instance says what to set instead.
//
// Threading: one interpreter per process, started on first use. If the host already runs Python (Nuke, Natron),
// its interpreter is used and no second one is started. The GIL is released right after start and taken per
// call, so concurrent renders are serialised by the GIL except where ONNX Runtime releases it while it computes.
#pragma once

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ImageView.h"

namespace chromaluma {

// A Python exception (or an environment failure) as a C++ error: Python type name + message.
class BackendError : public std::runtime_error {
public:
    BackendError(std::string type, const std::string& message, bool chromalumaError)
        : std::runtime_error(message), type_(std::move(type)), chromalumaError_(chromalumaError) {}
    const std::string& type() const { return type_; }
    bool isChromalumaError() const { return chromalumaError_; }  // a ChromalumaError: message names the fix
    std::string userMessage() const;

private:
    std::string type_;
    bool chromalumaError_;
};

// One array argument: a top-down strided view of host memory, never copied.
struct ArrayArg {
    TopDownLayout layout;
    BitDepth depth = BitDepth::None;
    bool writable = false;
};

// A neighbouring frame for process(): nullopt where the host has no frame at that time (the backend's edge rule
// then repeats the nearest frame between it and the centre, docs/CONTRACT.md §1.6).
using NeighbourArg = std::optional<ArrayArg>;

// Who renders, for the Render Log: the host descriptor's properties and this plug-in's identity, read at load.
struct HostDescription {
    std::string name, label, versionLabel;  // kOfxPropName, kOfxPropLabel, kOfxPropVersionLabel ("" when absent)
    std::vector<int> version;               // kOfxPropVersion (empty when absent)
    std::string plugin;                     // the plug-in's identifier and version
    int pluginMajor = 0, pluginMinor = 0;
};

// The scalar entries of `params` (docs/CONTRACT.md §1.4).
struct BackendParams {
    std::string model;
    double mix = 1.0;
    std::string device = "auto";       // "auto" | "gpu" | "cpu"
    int tileSize = 0;
    std::string outputMode = "restored";  // "restored" | "confidence" | "difference" | "matte"
    // A repair model repairs the pixels whose damage matte exceeds 1 - sensitivity (0: none); other kinds ignore it.
    double sensitivity = 0.5;
    // "fp32" (exact) or "fp16": a half-precision model the backend checks against fp32 on every load and refuses
    // (PrecisionError) beyond its tolerance; it changes the model that runs, so it is part of the model's description.
    std::string precision = "fp32";
    bool premultiplied = true;
    int windowX = 0, windowY = 0;        // dst's top-left inside src
    int originX = 0, originY = 0;        // src's top-left inside the frame (top-down)
    // A keyframe model's folder form (docs/CONTRACT.md §1.7): `keyframes` empty passes no params["keyframes"];
    // otherwise the folder (read by Python only), the frame number rendered and the frame's size (0 = unknown).
    std::string keyframes;
    int frame = 0;
    int frameWidth = 0, frameHeight = 0;
    // The Render Log (§1.4 `render_log`, `host_render`): empty = off. The rest describes the render for its record
    // and is filled by render() only when the log is set.
    std::string renderLog;
    HostDescription host;
    double time = 0.0;
    Rect renderWindow;
    double renderScaleX = 1.0, renderScaleY = 1.0;
};

// What the backend reported about a model (the RenderReport process() returns, docs/CONTRACT.md §1.5): what the
// plug-in needs for regions of interest and for the frames it asks the host for, and what Model Info shows.
struct ModelReport {
    std::string provider;
    std::string summary;
    std::vector<std::string> warnings;
    int receptiveField = 0;       // chromaluma.receptive_field (full-resolution pixels)
    double processingScale = 1.0; // chromaluma.processing_scale
    int framesBefore = 0;         // the model's temporal window: frames read before the one it restores,
    int framesAfter = 0;          // and after (both 0 for a single-frame model)
    int windowSize() const { return framesBefore + framesAfter; }  // neighbour frames process() takes
    std::string kind;             // the model's kind (RenderReport.kind)
    bool hasMatte = false;        // RenderReport.has_matte: a damage-repair model (Output Mode Damage Matte)
    std::vector<int> keyframes;          // the keyframes a keyframe model used (frame numbers, folder form)
    std::vector<int> keyframeDistances;  // frame rendered - keyframe frame, in the same order
    bool isKeyframeModel() const { return kind == "keyframes"; }
    // A model with a damage matte: only its matte's pixels are repaired (docs/CONTRACT.md §1.8).
    bool isRepairModel() const { return hasMatte || kind == "repair"; }
    // Model Info's line about a repair model (empty for other kinds).
    std::string repairText() const {
        if (!isRepairModel()) return "";
        return "damage repair, matte output: only pixels inside the damage matte are repaired (Sensitivity sets how "
               "faint a defect is; Output Mode Damage Matte shows what is repaired)";
    }
    std::string text() const;     // what modelInfo shows
    // Model Info's line about the window, e.g. "window: 2 frames before, 2 after".
    std::string windowText() const {
        if (windowSize() == 0) return "window: this frame only";
        auto frames = [](int n) { return std::to_string(n) + (n == 1 ? " frame" : " frames"); };
        return "window: " + frames(framesBefore) + " before, " + std::to_string(framesAfter) + " after";
    }
    // Model Info's line about the keyframes used, e.g. "keyframes 24 (−6 frames), 48 (+18 frames)": each keyframe
    // with where it lies from the frame rendered (− before it, + after it; the negated keyframe distance). A
    // keyframe listed twice (the frame is a keyframe, or its shot has a keyframe on one side only) is shown once.
    // Empty when the report lists none.
    std::string keyframesText() const {
        std::string text;
        int shown = 0;
        const size_t count = std::min(keyframes.size(), keyframeDistances.size());
        for (size_t i = 0; i < count; ++i) {
            if (i > 0 && keyframes[i] == keyframes[i - 1]) continue;
            ++shown;
            const int offset = -keyframeDistances[i];
            const std::string frames = std::to_string(offset < 0 ? -offset : offset) +
                                       (offset == 1 || offset == -1 ? " frame" : " frames");
            text += (text.empty() ? "" : ", ") + std::to_string(keyframes[i]) + " (" +
                    (offset == 0 ? std::string("this frame") : (offset < 0 ? "\u2212" : "+") + frames) + ")";
        }
        if (shown == 0) return text;
        return (shown == 1 ? "keyframe " : "keyframes ") + text;
    }
};

namespace bridge {

// Locates the environment, loads libpython and the bridge, starts (or attaches to) Python and imports the backend
// on first call; false with `why` (a user message naming what to set) if that is impossible. Never throws, never
// terminates the process, and never retries a failed start.
bool available(std::string& why);

// process(None, None, params): validate and load the model, fill the report, render nothing. Throws BackendError.
ModelReport describe(const BackendParams& params);

// process(src, dst, params) with `mask` (nullptr for none) and `neighbours` (the model's window without the centre,
// ordered t-before ... t-1, t+1 ... t+after; empty for a single-frame model). Throws BackendError.
ModelReport process(const ArrayArg& src, const ArrayArg& dst, const ArrayArg* mask,
                    const std::vector<NeighbourArg>& neighbours, const BackendParams& params);

}  // namespace bridge
}  // namespace chromaluma
