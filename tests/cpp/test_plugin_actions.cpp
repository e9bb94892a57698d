// The plug-in's OFX actions (Plugin.cpp, Instance.cpp, Render.cpp) in an in-process fake host, with a fake backend
// in place of Backend.cpp: lock order, instance ownership, which actions write parameters, persistent messages.
//
// The fake backend: a model path containing "broken" fails to describe, one containing "context" has a receptive
// field of 2 pixels, one containing "window" reads 2 frames before and 2 after the one it restores, one containing
// "fails" raises in process(), one containing "keyframes" is a keyframe model that reports the keyframes frame - 6
// and frame + 18 when given a folder (describe and process alike; a folder containing "unpainted" raises a
// KeyframeError), one containing "repair" is a damage-repair model (kind "repair", has a matte), and describing or
// rendering output mode "matte" with any other model raises a ParameterError as Python does; process() writes
// src + 1 (from where params' window says dst lies in src), records the first sample of each neighbour it was given
// (NaN for a missing one) and its params, and reports the warnings in `renderWarnings`; "Python" is unusable while
// `pythonMissing` is set.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "Expect.h"
#include "Instance.h"
#include "fake_ofx_host.h"
#include "ofxGPURender.h"

namespace chromaluma {

std::string BackendError::userMessage() const { return what(); }
std::string ModelReport::text() const {
    const std::string keyframes = keyframesText();
    return "summary: " + summary + (keyframes.empty() ? "" : "\n" + keyframes);
}

namespace fake {
std::atomic<bool> pythonMissing{false};
std::atomic<int> describes{0};
std::atomic<int> describedUnderInstanceMutex{0};  // describe() found the calling instance's mutex held
std::atomic<Instance*> watched{nullptr};           // the instance whose mutex describe() checks
std::vector<std::string> renderWarnings;
std::vector<float> neighbourSamples;  // the last process() call's neighbours: first sample, NaN when missing
int processCalls = 0;
BackendParams processed;  // the last process() call's params

// True when another thread cannot take `mutex` now, i.e. someone (the caller) holds it.
bool heldElsewhere(std::mutex& mutex) {
    bool taken = false;
    std::thread probe([&] {
        taken = mutex.try_lock();
        if (taken) mutex.unlock();
    });
    probe.join();
    return !taken;
}
}  // namespace fake

namespace bridge {

bool available(std::string& why) {
    if (!fake::pythonMissing) return true;
    why = "Chromaluma Restore: no Python environment: set CHROMALUMA_PYTHON=/path/to/venv/bin/python";
    return false;
}

// Stands for a call that takes the GIL: the house rule is that no instance mutex is held here.
ModelReport describe(const BackendParams& params) {
    ++fake::describes;
    if (Instance* instance = fake::watched.load(); instance != nullptr && fake::heldElsewhere(instance->mutex))
        ++fake::describedUnderInstanceMutex;
    if (params.model.find("broken") != std::string::npos)
        throw BackendError("ModelFormatError", params.model + " is not an ONNX model: export it again", true);
    ModelReport report;
    report.summary = params.model;
    report.receptiveField = params.model.find("context") != std::string::npos ? 2 : 0;
    const bool window = params.model.find("window") != std::string::npos;
    report.framesBefore = window ? 2 : 0;
    report.framesAfter = window ? 2 : 0;
    report.hasMatte = params.model.find("repair") != std::string::npos;
    if (report.hasMatte) report.kind = "repair";
    if (params.outputMode == "matte" && !report.hasMatte)
        throw BackendError("ParameterError", "output_mode 'matte': " + params.model + " has no damage matte", true);
    if (params.model.find("keyframes") != std::string::npos) {
        report.kind = "keyframes";
        if (params.keyframes.find("unpainted") != std::string::npos)
            throw BackendError("KeyframeError", "frame " + std::to_string(params.frame) + ": no keyframe in its shot",
                               true);
        if (!params.keyframes.empty()) {
            report.keyframes = {params.frame - 6, params.frame + 18};
            report.keyframeDistances = {6, -18};
        }
    }
    return report;
}

float& sample(const ArrayArg& a, int row, int column, int component) {
    const TopDownLayout& l = a.layout;
    return *reinterpret_cast<float*>(l.first + row * l.rowStride + column * l.pixelStride +
                                     component * l.componentStride);
}

ModelReport process(const ArrayArg& src, const ArrayArg& dst, const ArrayArg*,
                    const std::vector<NeighbourArg>& neighbours, const BackendParams& params) {
    ModelReport report = describe(params);
    ++fake::processCalls;
    fake::processed = params;
    fake::neighbourSamples.clear();
    for (const NeighbourArg& frame : neighbours)
        fake::neighbourSamples.push_back(frame ? sample(*frame, 0, 0, 0) : std::nanf(""));
    if (params.model.find("fails") != std::string::npos)
        throw BackendError("ZeroDivisionError", "division by zero", false);
    for (int row = 0; row < dst.layout.height; ++row)
        for (int column = 0; column < dst.layout.width; ++column)
            for (int c = 0; c < dst.layout.components; ++c)
                sample(dst, row, column, c) = sample(src, row + params.windowY, column + params.windowX, c) + 1.0f;
    report.warnings = fake::renderWarnings;
    return report;
}

}  // namespace bridge
}  // namespace chromaluma

namespace {

using chromaluma::Instance;
namespace fake = chromaluma::fake;
using fakehost::Effect;

std::string& modelFile(Effect& effect) { return effect.params.at(kParamModelFile)->text; }

// A fresh instance of the effect; `savedModel` is the modelFile a reopened project sets before create instance.
std::unique_ptr<Effect> created(const std::string& savedModel, OfxStatus& status) {
    auto effect = fakehost::describedEffect(kOfxImageEffectContextFilter, 4, 2);
    if (!effect) return nullptr;
    modelFile(*effect) = savedModel;
    status = fakehost::call(kOfxActionCreateInstance, effect.get());
    return effect;
}

void destroy(Effect& effect) {
    if (fakehost::instanceData(effect) != nullptr) fakehost::call(kOfxActionDestroyInstance, &effect);
}

// House rule (STYLE.md): never take the GIL while holding the instance mutex. Describing happens when the model
// changes (instance changed) and when a render meets a model file not described yet.
void testDescribeRunsWithoutTheInstanceMutex() {
    OfxStatus status = kOfxStatFailed;
    auto effect = created("", status);
    EXPECT(effect && status == kOfxStatOK);
    if (!effect || status != kOfxStatOK) return;
    fake::watched = static_cast<Instance*>(fakehost::instanceData(*effect));
    const int before = fake::describes;
    modelFile(*effect) = "/models/first.onnx";
    EXPECT(fakehost::changed(*effect, kParamModelFile) == kOfxStatOK);
    modelFile(*effect) = "/models/second.onnx";  // no instance changed: the render describes it
    EXPECT(fakehost::render(*effect, 1.0) == kOfxStatOK);
    EXPECT(fake::describes - before >= 2);  // both paths described: the check below saw them
    EXPECT(fake::describedUnderInstanceMutex == 0);
    fake::watched = nullptr;
    destroy(*effect);
}

// A render's warning (non-finite pixels passed through, GPU fallback) is about its frame: the next clean frame
// clears it.
void testRenderWarningClearsOnACleanFrame() {
    OfxStatus status = kOfxStatFailed;
    auto effect = created("/models/good.onnx", status);
    EXPECT(effect && status == kOfxStatOK);
    if (!effect) return;
    fake::renderWarnings = {"3 pixel(s) with NaN/Inf in src were passed through unchanged"};
    EXPECT(fakehost::render(*effect, 1.0) == kOfxStatOK);
    EXPECT(effect->messageType == kOfxMessageWarning);
    EXPECT(effect->message.find("NaN/Inf") != std::string::npos);
    fake::renderWarnings.clear();
    EXPECT(fakehost::render(*effect, 2.0) == kOfxStatOK);
    EXPECT(effect->messageType.empty() && effect->message.empty());
    EXPECT(fakehost::host().imagesHeld == 0);
    destroy(*effect);
}

// A create instance that fails leaves the host no instance data: nothing to leak when the host (as it may) does
// not call destroy instance after a failed create.
void testFailedCreateInstanceLeavesNoInstanceData() {
    fakehost::host().failParamReads = true;
    OfxStatus status = kOfxStatOK;
    auto effect = created("/models/good.onnx", status);
    fakehost::host().failParamReads = false;
    EXPECT(effect != nullptr);
    if (!effect) return;
    EXPECT(status != kOfxStatOK);
    EXPECT(fakehost::instanceData(*effect) == nullptr);
    EXPECT(effect->messageType == kOfxMessageError && effect->message.find("modelFile") != std::string::npos);
}

// OFX (ofxParam.h, paramSetValue): parameter values are set only in instance changed. A reopened project (model
// set before create instance) shows its Model Info after the first instance changed of any parameter.
void testModelInfoIsWrittenOnlyInInstanceChanged() {
    fakehost::host().writesOutsideInstanceChanged.clear();
    OfxStatus status = kOfxStatFailed;
    auto effect = created("/models/saved.onnx", status);
    EXPECT(effect && status == kOfxStatOK);
    if (!effect) return;
    EXPECT(fakehost::render(*effect, 1.0) == kOfxStatOK);
    fakehost::changed(*effect, kParamMix);  // any instance changed refreshes Model Info
    EXPECT(effect->params.at(kParamModelInfo)->text == "summary: /models/saved.onnx");
    EXPECT(fakehost::host().writesOutsideInstanceChanged.empty());
    for (const std::string& write : fakehost::host().writesOutsideInstanceChanged)
        std::fprintf(stderr, "  parameter written outside instance changed: %s\n", write.c_str());
    EXPECT(effect->messageType.empty());
    destroy(*effect);
}

// A broken saved model, or an unusable Python, is a persistent error from create instance on, before any render.
void testCreateInstanceShowsErrorsAtOnce() {
    OfxStatus status = kOfxStatFailed;
    auto effect = created("/models/broken.onnx", status);
    EXPECT(effect && status == kOfxStatOK);
    if (!effect) return;
    EXPECT(effect->messageType == kOfxMessageError);
    EXPECT(effect->message == "/models/broken.onnx is not an ONNX model: export it again");
    fakehost::changed(*effect, kParamMix);  // any instance changed refreshes Model Info
    EXPECT(effect->params.at(kParamModelInfo)->text == "/models/broken.onnx is not an ONNX model: export it again");
    modelFile(*effect) = "/models/fixed.onnx";
    EXPECT(fakehost::changed(*effect, kParamModelFile) == kOfxStatOK);
    EXPECT(effect->messageType.empty());  // the fix clears the error
    destroy(*effect);

    fake::pythonMissing = true;
    effect = created("", status);
    fake::pythonMissing = false;
    EXPECT(effect && status == kOfxStatOK);
    if (!effect) return;
    EXPECT(effect->messageType == kOfxMessageError && effect->message.find("CHROMALUMA_PYTHON=") != std::string::npos);
    destroy(*effect);
}

// No model: the source passes through (isIdentity) and a persistent warning says so until a model is set.
void testNoModelWarnsUntilAModelIsSet() {
    OfxStatus status = kOfxStatFailed;
    auto effect = created("", status);
    EXPECT(effect && status == kOfxStatOK);
    if (!effect) return;
    EXPECT(effect->messageType == kOfxMessageWarning);
    EXPECT(effect->message.find("no model set") != std::string::npos &&
           effect->message.find("passing the source through") != std::string::npos);
    modelFile(*effect) = "/models/good.onnx";
    EXPECT(fakehost::changed(*effect, kParamModelFile) == kOfxStatOK);
    EXPECT(effect->messageType.empty() && effect->message.empty());
    modelFile(*effect) = "";
    EXPECT(fakehost::changed(*effect, kParamModelFile) == kOfxStatOK);
    EXPECT(effect->messageType == kOfxMessageWarning && effect->message.find("no model set") != std::string::npos);
    destroy(*effect);
}

// An image the plug-in cannot render (a host ignoring the declared depths and components): the frame fails with
// kOfxStatErrImageFormat and an error naming the clip, the output is not touched and every image is released.
void testUnsupportedImagesFailTheFrameAndSaySo() {
    const char* cases[][3] = {{kOfxImageEffectSimpleSourceClipName, kOfxBitDepthHalf, kOfxImageComponentRGBA},
                              {kOfxImageEffectSimpleSourceClipName, kOfxBitDepthFloat, kOfxImageComponentAlpha},
                              {kOfxImageEffectOutputClipName, kOfxBitDepthFloat, kOfxImageComponentAlpha}};
    for (const auto& [clipName, depth, components] : cases) {
        OfxStatus status = kOfxStatFailed;
        auto effect = created("/models/good.onnx", status);
        EXPECT(effect && status == kOfxStatOK);
        if (!effect) return;
        fakehost::Clip& clip = *effect->clips.at(clipName);
        clip.depth = depth;
        clip.components = components;
        EXPECT(fakehost::render(*effect, 1.0) == kOfxStatErrImageFormat);
        EXPECT(effect->messageType == kOfxMessageError);
        EXPECT(effect->message.find(std::string(clipName) + " image is not RGB/RGBA") != std::string::npos);
        const std::vector<float>& out = effect->clips.at(kOfxImageEffectOutputClipName)->pixels;
        EXPECT(std::all_of(out.begin(), out.end(), [](float v) { return v == 0.5f; }));
        EXPECT(fakehost::host().imagesHeld == 0);
        destroy(*effect);
    }
}

// Render windows of one pixel, one row and one column inside a larger frame, with and without a receptive field
// (the source region then grows past the window): exactly the window is written, each pixel from its own source.
void testSmallRenderWindowsWriteExactlyTheWindow() {
    const OfxRectI windows[] = {{2, 1, 3, 2}, {0, 1, 5, 2}, {3, 0, 4, 3}, {0, 0, 1, 1}, {4, 2, 5, 3}};
    for (const char* model : {"/models/pointwise.onnx", "/models/context.onnx"}) {
        for (const OfxRectI& window : windows) {
            auto effect = fakehost::describedEffect(kOfxImageEffectContextFilter, 5, 3);
            if (!effect) return;
            modelFile(*effect) = model;
            EXPECT(fakehost::call(kOfxActionCreateInstance, effect.get()) == kOfxStatOK);
            std::vector<float>& src = effect->clips.at(kOfxImageEffectSimpleSourceClipName)->pixels;
            for (size_t i = 0; i < src.size(); ++i) src[i] = float(i);  // every sample its own value
            EXPECT(fakehost::render(*effect, 1.0, window) == kOfxStatOK);
            const std::vector<float>& out = effect->clips.at(kOfxImageEffectOutputClipName)->pixels;
            int wrong = 0;
            for (int y = 0; y < 3; ++y) {
                for (int x = 0; x < 5; ++x) {
                    const bool inside = x >= window.x1 && x < window.x2 && y >= window.y1 && y < window.y2;
                    for (int c = 0; c < 4; ++c) {
                        const size_t i = (static_cast<size_t>(y) * 5 + x) * 4 + c;
                        if (out[i] != (inside ? src[i] + 1.0f : 0.5f)) ++wrong;
                    }
                }
            }
            EXPECT(wrong == 0);
            if (wrong != 0)
                std::fprintf(stderr, "  %s, window %d,%d-%d,%d: %d samples wrong\n", model, window.x1, window.y1,
                             window.x2, window.y2, wrong);
            destroy(*effect);
        }
    }
}

// A temporal-window instance over a clip holding frames 1-10: the image at time T is filled with the value T.
std::unique_ptr<Effect> windowEffect(const std::string& model) {
    OfxStatus status = kOfxStatFailed;
    auto effect = created(model, status);
    if (!effect || status != kOfxStatOK) return nullptr;
    fakehost::Clip& source = *effect->clips.at(kOfxImageEffectSimpleSourceClipName);
    source.props.doubles[kOfxImageEffectPropFrameRange] = {1.0, 10.0};
    for (int t = 1; t <= 10; ++t) source.framePixels[t].assign(source.pixels.size(), float(t));
    source.fetchedTimes.clear();
    return effect;
}

bool isMissing(float v) { return std::isnan(v); }

// OFX frames needed: the model's window around the frame, clipped to the Source clip's frame range; a single-frame
// model leaves the host's default (the frame itself). No image is fetched by the action.
void testFramesNeededIsTheWindowInsideTheClip() {
    auto effect = windowEffect("/models/window.onnx");
    EXPECT(effect != nullptr);
    if (!effect) return;
    const double cases[][3] = {{5, 3, 7}, {1, 1, 3}, {2, 1, 4}, {10, 8, 10}, {9, 7, 10}};
    for (const auto& [time, first, last] : cases) {
        std::vector<double> range;
        EXPECT(fakehost::framesNeeded(*effect, time, range) == kOfxStatOK);
        EXPECT(range.size() == 2 && range[0] == first && range[1] == last);
        if (range.size() == 2 && (range[0] != first || range[1] != last))
            std::fprintf(stderr, "  frames needed at %g: [%g, %g], expected [%g, %g]\n", time, range[0], range[1], first,
                         last);
    }
    EXPECT(effect->clips.at(kOfxImageEffectSimpleSourceClipName)->fetchedTimes.empty());
    destroy(*effect);

    auto single = windowEffect("/models/single.onnx");
    EXPECT(single != nullptr);
    if (!single) return;
    std::vector<double> range;
    EXPECT(fakehost::framesNeeded(*single, 5, range) == kOfxStatReplyDefault);
    EXPECT(range == std::vector<double>({5.0, 5.0}));
    destroy(*single);
}

// Render hands the backend the window's frames in order t-2, t-1, t+1, t+2, each from its own time; a time outside
// the clip is not fetched and is passed as missing (the backend's edge rule fills it), and every image is released.
void testRenderPassesTheWindowInOrder() {
    auto effect = windowEffect("/models/window.onnx");
    EXPECT(effect != nullptr);
    if (!effect) return;
    EXPECT(fakehost::render(*effect, 5.0) == kOfxStatOK);
    EXPECT(fake::neighbourSamples == std::vector<float>({3.0f, 4.0f, 6.0f, 7.0f}));
    const std::vector<float>& out = effect->clips.at(kOfxImageEffectOutputClipName)->pixels;
    EXPECT(out.front() == 6.0f);  // the frame rendered is frame 5's own image (+1 by the fake backend)

    fakehost::Clip& source = *effect->clips.at(kOfxImageEffectSimpleSourceClipName);
    source.fetchedTimes.clear();
    EXPECT(fakehost::render(*effect, 1.0) == kOfxStatOK);
    const std::vector<float>& given = fake::neighbourSamples;
    EXPECT(given.size() == 4 && isMissing(given[0]) && isMissing(given[1]) && given[2] == 2.0f && given[3] == 3.0f);
    EXPECT(std::none_of(source.fetchedTimes.begin(), source.fetchedTimes.end(), [](double t) { return t < 1.0; }));
    EXPECT(effect->messageType.empty());  // the clip's first frame is no fault: nothing to warn about
    EXPECT(fakehost::host().imagesHeld == 0);
    destroy(*effect);
}

// A neighbour the host cannot give, or gives over other bounds than the frame rendered, is passed as missing and a
// persistent warning names it; the frame still renders.
void testUnusableNeighboursAreMissingAndSaidSo() {
    auto effect = windowEffect("/models/window.onnx");
    EXPECT(effect != nullptr);
    if (!effect) return;
    fakehost::Clip& source = *effect->clips.at(kOfxImageEffectSimpleSourceClipName);
    source.missingAt = {6.0};
    source.narrowAt = {4.0};
    source.shortAt = {7.0};
    EXPECT(fakehost::render(*effect, 5.0) == kOfxStatOK);
    const std::vector<float>& given = fake::neighbourSamples;
    EXPECT(given.size() == 4 && given[0] == 3.0f && isMissing(given[1]) && isMissing(given[2]) && isMissing(given[3]));
    EXPECT(effect->messageType == kOfxMessageWarning);
    EXPECT(effect->message.find("the host gave no image of Source frame 6") != std::string::npos);
    EXPECT(effect->message.find("Source frame 4 does not cover the region") != std::string::npos);
    EXPECT(effect->message.find("Source frame 7 has another pixel depth or components") != std::string::npos);
    EXPECT(fakehost::host().imagesHeld == 0);
    destroy(*effect);
}

// Every fetched image (frame, neighbours, output) is released when the backend fails and when the host aborts
// after the fetch.
void testWindowImagesAreReleasedOnEveryPath() {
    auto failing = windowEffect("/models/window-fails.onnx");
    EXPECT(failing != nullptr);
    if (!failing) return;
    EXPECT(fakehost::render(*failing, 5.0) == kOfxStatFailed);
    EXPECT(failing->messageType == kOfxMessageError && failing->message.find("division by zero") != std::string::npos);
    EXPECT(failing->clips.at(kOfxImageEffectSimpleSourceClipName)->fetchedTimes.size() == 5);
    EXPECT(fakehost::host().imagesHeld == 0);
    destroy(*failing);

    auto aborted = windowEffect("/models/window.onnx");
    EXPECT(aborted != nullptr);
    if (!aborted) return;
    const int calls = fake::processCalls;
    fakehost::host().abortCalls = 0;
    fakehost::host().abortOnCall = 2;  // the first check passes (before fetching), the one after the fetch aborts
    EXPECT(fakehost::render(*aborted, 5.0) == kOfxStatOK);
    fakehost::host().abortOnCall = 0;
    EXPECT(aborted->clips.at(kOfxImageEffectSimpleSourceClipName)->fetchedTimes.size() == 5);
    EXPECT(fake::processCalls == calls);  // aborted before the backend
    EXPECT(fakehost::host().imagesHeld == 0);
    destroy(*aborted);
}

// A keyframe model whose Keyframes parameter is `folder`.
std::unique_ptr<Effect> keyframeEffect(const std::string& model, const std::string& folder, OfxStatus& status) {
    auto effect = fakehost::describedEffect(kOfxImageEffectContextFilter, 4, 2);
    if (!effect) return nullptr;
    modelFile(*effect) = model;
    effect->params.at(kParamKeyframesFolder)->text = folder;
    status = fakehost::call(kOfxActionCreateInstance, effect.get());
    return effect;
}

// A keyframe model with Keyframes empty: a persistent error naming the parameter from create instance on, and a
// render that fails with it before fetching any image or calling the backend. Setting the folder clears it.
void testKeyframeModelWithoutFolderSaysSetKeyframes() {
    OfxStatus status = kOfxStatFailed;
    auto effect = keyframeEffect("/models/keyframes.onnx", "", status);
    EXPECT(effect && status == kOfxStatOK);
    if (!effect) return;
    EXPECT(effect->messageType == kOfxMessageError);
    EXPECT(effect->message.find("is a keyframe model but Keyframes is empty: set Keyframes to the folder") !=
           std::string::npos);
    const int calls = fake::processCalls;
    EXPECT(fakehost::render(*effect, 3.0) == kOfxStatFailed);
    EXPECT(effect->messageType == kOfxMessageError && effect->message.find("set Keyframes") != std::string::npos);
    EXPECT(fake::processCalls == calls);
    EXPECT(effect->clips.at(kOfxImageEffectSimpleSourceClipName)->fetchedTimes.empty());
    EXPECT(fakehost::host().imagesHeld == 0);
    fakehost::changed(*effect, kParamMix);
    EXPECT(effect->params.at(kParamModelInfo)->text.find("Keyframes is empty") != std::string::npos);
    effect->params.at(kParamKeyframesFolder)->text = "/shots/keys";
    EXPECT(fakehost::changed(*effect, kParamKeyframesFolder) == kOfxStatOK);
    EXPECT(effect->messageType.empty());
    destroy(*effect);
}

// The folder form: the folder as set, the render time as a whole frame number (x.5 up) and the Source frame's size;
// a model of another kind gets no keyframes whatever the parameter holds.
void testKeyframeRenderPassesFolderFrameAndSize() {
    OfxStatus status = kOfxStatFailed;
    auto effect = keyframeEffect("/models/keyframes.onnx", "/shots/keys", status);
    EXPECT(effect && status == kOfxStatOK);
    if (!effect) return;
    for (const auto& [time, frame] : std::vector<std::pair<double, int>>{{30.0, 30}, {29.6, 30}, {30.5, 31},
                                                                       {30.49, 30}, {-2.5, -2}}) {
        EXPECT(fakehost::render(*effect, time) == kOfxStatOK);
        EXPECT(fake::processed.keyframes == "/shots/keys" && fake::processed.frame == frame);
        if (fake::processed.frame != frame)
            std::fprintf(stderr, "  render at %g passed frame %d, expected %d\n", time, fake::processed.frame, frame);
    }
    EXPECT(fake::processed.frameWidth == 4 && fake::processed.frameHeight == 2);
    destroy(*effect);

    auto other = keyframeEffect("/models/chroma.onnx", "/shots/keys", status);
    EXPECT(other && status == kOfxStatOK);
    if (!other) return;
    EXPECT(fakehost::render(*other, 30.0) == kOfxStatOK);
    EXPECT(fake::processed.keyframes.empty());
    fakehost::changed(*other, kParamMix);
    EXPECT(other->params.at(kParamModelInfo)->text.find("Keyframes: ignored") != std::string::npos);
    destroy(*other);
}

// Model Info names the keyframes the frame at the instance changed's time uses, with where they lie from it.
void testModelInfoShowsTheKeyframesInUse() {
    OfxStatus status = kOfxStatFailed;
    auto effect = keyframeEffect("/models/keyframes.onnx", "/shots/keys", status);
    EXPECT(effect && status == kOfxStatOK);
    if (!effect) return;
    fakehost::changed(*effect, kParamMix, 30.0);
    const std::string& info = effect->params.at(kParamModelInfo)->text;
    EXPECT(info.find("frame 30: keyframes 24 (\u22126 frames), 48 (+18 frames)") != std::string::npos);
    if (info.find("frame 30: keyframes") == std::string::npos) std::fprintf(stderr, "  Model Info: %s\n", info.c_str());
    EXPECT(effect->messageType.empty());

    // Python's error about this frame's keyframes: an error on the effect, and Model Info keeps the model's summary.
    effect->params.at(kParamKeyframesFolder)->text = "/shots/unpainted";
    EXPECT(fakehost::changed(*effect, kParamKeyframesFolder, 12.0) == kOfxStatOK);
    EXPECT(effect->messageType == kOfxMessageError && effect->message == "frame 12: no keyframe in its shot");
    EXPECT(info.rfind("summary: /models/keyframes.onnx", 0) == 0 &&
           info.find("keyframes: frame 12: no keyframe in its shot") != std::string::npos);
    destroy(*effect);
}

// The choice and the parameter a restorer meets (types, defaults, ranges, animation): Damage Matte is appended to
// Output Mode so the indices saved in projects keep their meaning; Sensitivity is an animatable 0-1 Double at 0.5.
void testRepairParametersAreDeclared() {
    auto effect = fakehost::describedEffect(kOfxImageEffectContextGeneral, 4, 2);
    EXPECT(effect != nullptr);
    if (!effect) return;
    const fakehost::Param& mode = *effect->params.at(kParamOutputMode);
    EXPECT(mode.type == kOfxParamTypeChoice);
    EXPECT(mode.props.strings.at(kOfxParamPropChoiceOption) ==
           std::vector<std::string>({"Restored", "Confidence", "Difference", "Damage Matte"}));
    EXPECT(mode.props.ints.at(kOfxParamPropDefault) == std::vector<int>({0}));
    const auto found = effect->params.find("sensitivity");
    EXPECT(found != effect->params.end());
    if (found == effect->params.end()) return;
    const fakehost::Param& sensitivity = *found->second;
    const fakehost::Props& props = sensitivity.props;
    EXPECT(sensitivity.type == kOfxParamTypeDouble);
    EXPECT(props.strings.at(kOfxPropLabel) == std::vector<std::string>({"Sensitivity"}));
    EXPECT(props.strings.at(kOfxParamPropScriptName) == std::vector<std::string>({"sensitivity"}));
    const std::string hint = props.strings.at(kOfxParamPropHint).at(0);
    EXPECT(hint.find("repair") != std::string::npos && hint.find("never touched") != std::string::npos);
    for (const auto& [name, value] : std::vector<std::pair<const char*, double>>{
             {kOfxParamPropDefault, 0.5}, {kOfxParamPropMin, 0.0}, {kOfxParamPropMax, 1.0},
             {kOfxParamPropDisplayMin, 0.0}, {kOfxParamPropDisplayMax, 1.0}}) {
        const auto it = props.doubles.find(name);
        EXPECT(it != props.doubles.end() && it->second == std::vector<double>({value}));
        if (it == props.doubles.end() || it->second != std::vector<double>({value}))
            std::fprintf(stderr, "  sensitivity %s is not %g\n", name, value);
    }
    const auto animates = props.ints.find(kOfxParamPropAnimates);
    EXPECT(animates == props.ints.end() || animates->second == std::vector<int>({1}));  // OFX's default is 1
    EXPECT(sensitivity.number == 0.5);  // the host's value before any edit
}

// Every render passes Sensitivity at the frame's time and Damage Matte as output mode "matte".
void testRenderPassesSensitivityAndDamageMatte() {
    OfxStatus status = kOfxStatFailed;
    auto effect = created("/models/repair.onnx", status);
    EXPECT(effect && status == kOfxStatOK);
    if (!effect) return;
    EXPECT(fakehost::render(*effect, 1.0) == kOfxStatOK);
    EXPECT(fake::processed.sensitivity == 0.5 && fake::processed.outputMode == "restored");
    effect->params.at(kParamSensitivity)->number = 0.25;
    effect->params.at(kParamOutputMode)->integer = 3;
    EXPECT(fakehost::render(*effect, 2.0) == kOfxStatOK);
    EXPECT(fake::processed.sensitivity == 0.25 && fake::processed.outputMode == "matte");
    destroy(*effect);
}

// kOfxImageEffectActionIsIdentity at `time`: the clip named ("" when the plug-in answers with a render).
std::string identityClip(Effect& effect, double time) {
    fakehost::Props in, out;
    in.doubles[kOfxPropTime] = {time};
    in.doubles[kOfxImageEffectPropRenderScale] = {1.0, 1.0};
    in.ints[kOfxImageEffectPropRenderWindow] = {0, 0, 4, 2};
    in.strings[kOfxImageEffectPropFieldToRender] = {kOfxImageFieldNone};
    out.strings[kOfxPropName] = {""};
    out.doubles[kOfxPropTime] = {time};
    const OfxStatus status = fakehost::call(kOfxImageEffectActionIsIdentity, &effect, &in, &out);
    return status == kOfxStatOK ? out.strings[kOfxPropName].at(0) : "";
}

// The host skips the render only where the output is the source: Restored at mix 0, and a repair model's Restored
// at Sensitivity 0 (it repairs nothing). Damage Matte at mix 0 is black, not the source; other kinds ignore
// Sensitivity.
void testIdentityOnlyWhereTheOutputIsTheSource() {
    struct Case {
        const char* model;
        int mode;
        double mix, sensitivity;
        bool identity;
    };
    const Case cases[] = {{"/models/repair.onnx", 0, 1.0, 0.0, true},   {"/models/repair.onnx", 0, 1.0, 0.5, false},
                          {"/models/repair.onnx", 0, 0.0, 0.5, true},   {"/models/repair.onnx", 3, 0.0, 0.5, false},
                          {"/models/repair.onnx", 3, 1.0, 0.0, false},  {"/models/repair.onnx", 2, 1.0, 0.0, false},
                          {"/models/repair.onnx", 0, 1.0, 0.01, false}, {"/models/chroma.onnx", 0, 1.0, 0.0, false},
                          {"/models/broken-repair.onnx", 0, 1.0, 0.0, false}};
    for (const Case& c : cases) {
        OfxStatus status = kOfxStatFailed;
        auto effect = created(c.model, status);
        EXPECT(effect && status == kOfxStatOK);
        if (!effect) return;
        effect->params.at(kParamOutputMode)->integer = c.mode;
        effect->params.at(kParamMix)->number = c.mix;
        effect->params.at(kParamSensitivity)->number = c.sensitivity;
        const std::string clip = identityClip(*effect, 1.0);
        EXPECT(clip == (c.identity ? kOfxImageEffectSimpleSourceClipName : ""));
        if (clip != (c.identity ? kOfxImageEffectSimpleSourceClipName : ""))
            std::fprintf(stderr, "  %s mode %d mix %g sensitivity %g: identity \"%s\"\n", c.model, c.mode, c.mix,
                         c.sensitivity, clip.c_str());
        destroy(*effect);
    }
}

// Damage Matte with a model that has none: an error naming the model and what to choose, at once (instance changed)
// and from render; choosing Restored again clears it and renders. The model is first described while Damage Matte
// is chosen, so a description asked with the output mode would cache the failure with the model.
void testDamageMatteWithoutAMatteSaysWhatToChoose() {
    OfxStatus status = kOfxStatFailed;
    auto effect = created("", status);
    EXPECT(effect && status == kOfxStatOK);
    if (!effect) return;
    effect->params.at(kParamOutputMode)->integer = 3;
    EXPECT(fakehost::changed(*effect, kParamOutputMode) == kOfxStatOK);
    modelFile(*effect) = "/models/chroma.onnx";
    EXPECT(fakehost::changed(*effect, kParamModelFile) == kOfxStatOK);
    EXPECT(effect->messageType == kOfxMessageError);
    EXPECT(effect->message.find("Damage Matte: /models/chroma.onnx has no damage matte") != std::string::npos &&
           effect->message.find("choose Restored, Confidence or Difference") != std::string::npos);
    EXPECT(effect->params.at(kParamModelInfo)->text.find("has no damage matte") != std::string::npos);
    EXPECT(fakehost::render(*effect, 1.0) == kOfxStatFailed);
    EXPECT(effect->messageType == kOfxMessageError && effect->message.find("no damage matte") != std::string::npos);
    effect->params.at(kParamOutputMode)->integer = 0;
    EXPECT(fakehost::changed(*effect, kParamOutputMode) == kOfxStatOK);
    EXPECT(effect->messageType.empty());
    EXPECT(fakehost::render(*effect, 1.0) == kOfxStatOK);
    EXPECT(fakehost::host().imagesHeld == 0);
    destroy(*effect);

    auto repair = created("/models/repair.onnx", status);  // a repair model shows its matte without complaint
    EXPECT(repair && status == kOfxStatOK);
    if (!repair) return;
    repair->params.at(kParamOutputMode)->integer = 3;
    EXPECT(fakehost::changed(*repair, kParamOutputMode) == kOfxStatOK);
    EXPECT(repair->messageType.empty());
    EXPECT(fakehost::render(*repair, 1.0) == kOfxStatOK);
    destroy(*repair);
}

// Model Info's line for a repair model (ModelReport::repairText, part of Model Info's text): says it is one.
void testRepairModelSaysSoInModelInfo() {
    chromaluma::ModelReport report;
    EXPECT(report.repairText().empty());
    report.kind = "chroma";
    EXPECT(report.repairText().empty());
    report.hasMatte = true;
    EXPECT(report.repairText().rfind("damage repair, matte output", 0) == 0);
}

}  // namespace

// Describe declares CUDA render and CUDA streams "false" itself (the fake host starts with neither property): the
// plug-in reads CPU memory only, so it must never leave a host to assume otherwise.
void testDescribeDeclaresNoGpuRender() {
    auto effect = fakehost::describedEffect(kOfxImageEffectContextFilter, 4, 2);
    EXPECT(effect != nullptr);
    if (!effect) return;
    using Strings = std::vector<std::string>;
    EXPECT(effect->props.strings[kOfxImageEffectPropCudaRenderSupported] == Strings{"false"});
    EXPECT(effect->props.strings[kOfxImageEffectPropCudaStreamSupported] == Strings{"false"});
    for (const char* other : {kOfxImageEffectPropMetalRenderSupported, kOfxImageEffectPropOpenCLRenderSupported,
                              kOfxImageEffectPropOpenGLRenderSupported})
        EXPECT(effect->props.strings.count(other) == 0 || effect->props.strings[other] == Strings{"false"});
}

// A host that passes GPU memory anyway (a render flag set although the plug-in said "false") gets a failed frame
// and a persistent error naming the property, before any image is fetched: the device pointer is never read, the
// output is untouched. The same render without the flag (or with it 0) renders.
void testGpuMemoryIsRefusedBeforeAnyImageIsFetched() {
    for (const char* flag : {kOfxImageEffectPropCudaEnabled, kOfxImageEffectPropMetalEnabled,
                             kOfxImageEffectPropOpenCLEnabled, kOfxImageEffectPropOpenGLEnabled}) {
        OfxStatus status = kOfxStatFailed;
        auto effect = created("/models/good.onnx", status);
        EXPECT(effect && status == kOfxStatOK);
        if (!effect) return;
        fakehost::Clip& output = *effect->clips.at(kOfxImageEffectOutputClipName);
        fakehost::Props in;
        in.doubles[kOfxPropTime] = {1.0};
        in.ints[kOfxImageEffectPropRenderWindow] = {0, 0, output.width, output.height};
        in.doubles[kOfxImageEffectPropRenderScale] = {1.0, 1.0};
        in.strings[kOfxImageEffectPropFieldToRender] = {kOfxImageFieldNone};
        in.ints[flag] = {1};
        EXPECT(fakehost::call(kOfxImageEffectActionRender, effect.get(), &in) == kOfxStatFailed);
        EXPECT(effect->messageType == kOfxMessageError);
        EXPECT(effect->message.find(std::string(flag) + " = 1") != std::string::npos);
        EXPECT(effect->message.find("turn off GPU image processing for this effect") != std::string::npos);
        EXPECT(output.fetchedTimes.empty() && effect->clips.at(kOfxImageEffectSimpleSourceClipName)->fetchedTimes.empty());
        EXPECT(std::all_of(output.pixels.begin(), output.pixels.end(), [](float v) { return v == 0.5f; }));
        in.ints[flag] = {0};
        EXPECT(fakehost::call(kOfxImageEffectActionRender, effect.get(), &in) == kOfxStatOK);
        EXPECT(fakehost::host().imagesHeld == 0);
        destroy(*effect);
    }
}

int main() {
    testDescribeDeclaresNoGpuRender();
    testGpuMemoryIsRefusedBeforeAnyImageIsFetched();
    testDescribeRunsWithoutTheInstanceMutex();
    testRenderWarningClearsOnACleanFrame();
    testFailedCreateInstanceLeavesNoInstanceData();
    testModelInfoIsWrittenOnlyInInstanceChanged();
    testCreateInstanceShowsErrorsAtOnce();
    testNoModelWarnsUntilAModelIsSet();
    testUnsupportedImagesFailTheFrameAndSaySo();
    testSmallRenderWindowsWriteExactlyTheWindow();
    testFramesNeededIsTheWindowInsideTheClip();
    testRenderPassesTheWindowInOrder();
    testUnusableNeighboursAreMissingAndSaidSo();
    testWindowImagesAreReleasedOnEveryPath();
    testKeyframeModelWithoutFolderSaysSetKeyframes();
    testKeyframeRenderPassesFolderFrameAndSize();
    testModelInfoShowsTheKeyframesInUse();
    testRepairParametersAreDeclared();
    testRenderPassesSensitivityAndDamageMatte();
    testIdentityOnlyWhereTheOutputIsTheSource();
    testDamageMatteWithoutAMatteSaysWhatToChoose();
    testRepairModelSaysSoInModelInfo();
    if (expectFailures() == 0) std::printf("plugin actions: all checks passed\n");
    return expectFailures() != 0;
}
