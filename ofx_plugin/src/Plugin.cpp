// Chromaluma Restore: applies a Chromaluma restoration model (.onnx) to a clip through chromaluma.api.process.
//
// Order, as in openfx-misc's plug-ins: identifiers → parameter names → describe → describe in context →
// instance life → region / preference / identity actions → the single entry point → the factory. Rendering
// (fetch → views → backend → checks) lives in Render.cpp. Every action catches every exception: the user sees a
// persistent message on the instance and the host gets a failed status; nothing ever unwinds into the host.
#include <cmath>
#include <algorithm>
#include <memory>
#include <new>
#include <string>

#include "Instance.h"
#include "Backend.h"
#include "Render.h"

#define kPluginName "Chromaluma Restore"
#define kPluginGrouping "Chromaluma"
#define kPluginDescription                                                                                         \
    "Applies a Chromaluma restoration model trained on this film's own references. The source is never modified; " \
    "Output Mode shows the model's confidence, its difference from the source or a repair model's damage matte, " \
    "and Mix and the Mask limit it."
#define kPluginIdentifier "org.chromaluma.Restore"
// Bump the major version when a change breaks existing projects (renamed/removed parameters, other results from
// the same values); bump the minor version for compatible additions.
#define kPluginVersionMajor 1
#define kPluginVersionMinor 5

#define kParamModelFileLabel "Model File"
#define kParamModelFileHint "The Chromaluma model (.onnx) to apply, as exported by `chromaluma export`."
// A folder parameter, not a second clip: every host has string/path parameters, while an optional clip read at
// arbitrary keyframe times is not portable across Resolve, Nuke and Natron; farm nodes read the same folder.
#define kParamKeyframesFolderLabel "Keyframes"
#define kParamKeyframesFolderHint                                                                                  \
    "Used by keyframe models only (other models ignore it). The folder of painted keyframes registered onto the " \
    "scan, named by frame number (0024.tif): the folder `chromaluma train --kind keyframes` writes as RUN/keyframes. " \
    "Each frame takes the nearest keyframe at or before it and at or after it in its shot; Model Info shows which."
#define kParamMixLabel "Mix"
#define kParamMixHint "Blend of the restoration over the source: 0 leaves the source untouched, 1 is fully restored."
#define kParamSensitivityLabel "Sensitivity"
#define kParamSensitivityHint                                                                                \
    "Used by damage-repair models only (others ignore it): higher values repair fainter damage, 0 repairs " \
    "nothing, and pixels outside the damage matte are never touched."
#define kParamDeviceLabel "Device"
#define kParamDeviceHint                                                                                      \
    "Where ONNX Runtime runs the model. Auto uses the GPU when one works and falls back to the CPU; a GPU " \
    "request that falls back is reported in Model Info, never silently."
#define kParamPrecisionLabel "Precision"
#define kParamPrecisionHint                                                                                         \
    "fp32 (exact) runs the model as trained. fp16 runs a half-precision copy, faster on a GPU: every load compares " \
    "it with fp32 on a probe frame and refuses it, with a message, when it differs by more than one 10-bit code "  \
    "value (95th percentile) or eight (maximum). On a CPU fp16 is slower, not faster."
#define kParamTileSizeLabel "Tile Size"
#define kParamTileSizeHint "Edge length in pixels of the tiles the model runs on (0 = automatic). Smaller uses less memory."
#define kParamOutputModeLabel "Output Mode"
#define kParamOutputModeHint                                                                                       \
    "Restored: the restoration. Confidence: where the model is sure (white) or unsure (dark). Difference: what " \
    "the model changed, around mid grey. Damage Matte (repair models only): what is repaired, white where fully " \
    "repaired, after Sensitivity, Mix and the Mask."
#define kParamRenderLogLabel "Render Log"
#define kParamRenderLogHint                                                                                        \
    "Optional: a file (e.g. shot.chromaluma-render.jsonl) to which every render appends one JSON line: model "    \
    "hash, parameters, frame, render window, versions, this host and machine, as `chromaluma apply`'s render log " \
    "names them. Empty: no log. It never changes the image; a log that cannot be written fails the render."
#define kParamModelInfoLabel "Model Info"
#define kParamModelInfoHint                                                                                          \
    "Read only: the model's kind and training summary, the ONNX Runtime provider actually used, whether it is a " \
    "damage-repair model (with a matte), for a keyframe model the keyframes a frame uses and how far they lie "   \
    "from it (-6 frames: 6 before it), and any warnings (such as a GPU fallback)."

namespace chromaluma {
namespace {

using namespace ofx;

OfxStatus describe(OfxImageEffectHandle effect) {
    OfxPropertySetHandle props = nullptr;
    check(suites().effect->getPropertySet(effect, &props), "getPropertySet");
    setString(props, kOfxPropLabel, kPluginName);
    setString(props, kOfxImageEffectPluginPropGrouping, kPluginGrouping);
    setString(props, kOfxPropPluginDescription, kPluginDescription);
    setStrings(props, kOfxImageEffectPropSupportedContexts, {kOfxImageEffectContextFilter, kOfxImageEffectContextGeneral});
    setStrings(props, kOfxImageEffectPropSupportedPixelDepths, {kOfxBitDepthFloat, kOfxBitDepthShort, kOfxBitDepthByte});
    // Tiles: render() writes only the render window, from the source region regionsOfInterest() asked for (the
    // window grown by the model's receptive field and aligned to its processing scale, clipped to the frame).
    setInt(props, kOfxImageEffectPropSupportsTiles, 1);
    // The model's receptive field is in full-resolution pixels: at a proxy scale it would see a different picture,
    // so we ask the host for full-resolution renders instead of pretending.
    setInt(props, kOfxImageEffectPropSupportsMultiResolution, 0);
    // A temporal-window model restores a frame from its neighbours too: render fetches Source at the other times of
    // the model's window, which getFramesNeeded declares (a single-frame model needs only the current frame).
    setInt(props, kOfxImageEffectPropTemporalClipAccess, 1);
    setInt(props, kOfxImageEffectPropSupportsMultipleClipDepths, 0);
    setInt(props, kOfxImageEffectPluginPropSingleInstance, 0);
    // Fully safe: the host may render several frames at once, on one instance or several. Instance state (the
    // model description cache) is mutex-guarded and not held during process(); api.process and its session cache
    // are thread safe; each backend call takes the GIL. So concurrent renders are correct, but their Python parts
    // run one at a time: they overlap only while ONNX Runtime computes (it releases the GIL in run()), and one
    // render's ORT call already uses every core, so several at once mainly cost memory, not correctness.
    setString(props, kOfxImageEffectPluginRenderThreadSafety, kOfxImageEffectRenderFullySafe);
    // No host frame threading (the host cutting one frame into strips rendered on its threads): every strip would
    // re-run the model over its receptive-field margins and wait for the GIL; ORT already threads within a call.
    setInt(props, kOfxImageEffectPluginPropHostFrameThreading, 0);
    // CPU memory only: a GPU host hands this effect CPU images (Render.cpp says why, and refuses GPU memory).
    describeGpuRender(props);
    return kOfxStatOK;
}

OfxPropertySetHandle defineParam(OfxParamSetHandle set, const char* type, const char* name, const char* label,
                                 const char* hint) {
    OfxPropertySetHandle props = nullptr;
    check(suites().param->paramDefine(set, type, name, &props), name);
    setString(props, kOfxPropLabel, label);
    setString(props, kOfxParamPropHint, hint);
    setString(props, kOfxParamPropScriptName, name);
    return props;
}

void defineParams(OfxParamSetHandle set) {
    OfxPropertySetHandle p = defineParam(set, kOfxParamTypeString, kParamModelFile, kParamModelFileLabel,
                                         kParamModelFileHint);
    setString(p, kOfxParamPropStringMode, kOfxParamStringIsFilePath);
    setInt(p, kOfxParamPropStringFilePathExists, 1);
    setInt(p, kOfxParamPropAnimates, 0);
    setString(p, kOfxParamPropDefault, "");

    // Visible for every model: changing the model must not need a host that shows and hides parameters.
    p = defineParam(set, kOfxParamTypeString, kParamKeyframesFolder, kParamKeyframesFolderLabel,
                    kParamKeyframesFolderHint);
    setString(p, kOfxParamPropStringMode, kOfxParamStringIsDirectoryPath);
    setInt(p, kOfxParamPropStringFilePathExists, 1);
    setInt(p, kOfxParamPropAnimates, 0);
    setString(p, kOfxParamPropDefault, "");

    p = defineParam(set, kOfxParamTypeDouble, kParamMix, kParamMixLabel, kParamMixHint);
    setString(p, kOfxParamPropDoubleType, kOfxParamDoubleTypeScale);
    setDouble(p, kOfxParamPropDefault, 1.0);
    setDouble(p, kOfxParamPropMin, 0.0);
    setDouble(p, kOfxParamPropMax, 1.0);
    setDouble(p, kOfxParamPropDisplayMin, 0.0);
    setDouble(p, kOfxParamPropDisplayMax, 1.0);

    // Visible for every model, like Keyframes; animatable, so a restorer can lower it where the picture itself has
    // specks or lines the model takes for damage.
    p = defineParam(set, kOfxParamTypeDouble, kParamSensitivity, kParamSensitivityLabel, kParamSensitivityHint);
    setString(p, kOfxParamPropDoubleType, kOfxParamDoubleTypePlain);
    setDouble(p, kOfxParamPropDefault, 0.5);
    setDouble(p, kOfxParamPropMin, 0.0);
    setDouble(p, kOfxParamPropMax, 1.0);
    setDouble(p, kOfxParamPropDisplayMin, 0.0);
    setDouble(p, kOfxParamPropDisplayMax, 1.0);
    setInt(p, kOfxParamPropAnimates, 1);

    p = defineParam(set, kOfxParamTypeChoice, kParamDevice, kParamDeviceLabel, kParamDeviceHint);
    setStrings(p, kOfxParamPropChoiceOption, {"Auto", "GPU", "CPU"});
    setInt(p, kOfxParamPropDefault, kDeviceAuto);
    setInt(p, kOfxParamPropAnimates, 0);

    // Changes the model that runs (and its pixels, within the checked tolerance), so the host re-renders on change.
    // Options are only appended: hosts save the index.
    p = defineParam(set, kOfxParamTypeChoice, kParamPrecision, kParamPrecisionLabel, kParamPrecisionHint);
    setStrings(p, kOfxParamPropChoiceOption, {"fp32 (exact)", "fp16 (GPU, checked against fp32 on load)"});
    setInt(p, kOfxParamPropDefault, kPrecisionFp32);
    setInt(p, kOfxParamPropAnimates, 0);

    p = defineParam(set, kOfxParamTypeInteger, kParamTileSize, kParamTileSizeLabel, kParamTileSizeHint);
    setInt(p, kOfxParamPropDefault, 0);
    setInt(p, kOfxParamPropMin, 0);
    setInt(p, kOfxParamPropMax, 16384);
    setInt(p, kOfxParamPropDisplayMin, 0);
    setInt(p, kOfxParamPropDisplayMax, 4096);
    setInt(p, kOfxParamPropAnimates, 0);

    p = defineParam(set, kOfxParamTypeChoice, kParamOutputMode, kParamOutputModeLabel, kParamOutputModeHint);
    // Options are only appended: hosts save the index (kOutputMatte is the last).
    setStrings(p, kOfxParamPropChoiceOption, {"Restored", "Confidence", "Difference", "Damage Matte"});
    setInt(p, kOfxParamPropDefault, kOutputRestored);
    setInt(p, kOfxParamPropAnimates, 0);

    // Documents renders and never changes their pixels: changing it asks the host for no re-render (a host that
    // keys its cache on every parameter may still re-render; nothing in the standard exempts one from the key).
    p = defineParam(set, kOfxParamTypeString, kParamRenderLog, kParamRenderLogLabel, kParamRenderLogHint);
    setString(p, kOfxParamPropStringMode, kOfxParamStringIsFilePath);
    setInt(p, kOfxParamPropStringFilePathExists, 0);  // a file to write (a save dialog): the first render creates it
    setInt(p, kOfxParamPropAnimates, 0);
    setString(p, kOfxParamPropDefault, "");
    setInt(p, kOfxParamPropEvaluateOnChange, 0);

    p = defineParam(set, kOfxParamTypeString, kParamModelInfo, kParamModelInfoLabel, kParamModelInfoHint);
    setString(p, kOfxParamPropStringMode, kOfxParamStringIsMultiLine);
    setString(p, kOfxParamPropDefault, "");
    setInt(p, kOfxParamPropEnabled, 0);           // read only for the user; the plug-in writes it
    setInt(p, kOfxParamPropAnimates, 0);
    setInt(p, kOfxParamPropPersistant, 0);        // recomputed from the model, not saved
    setInt(p, kOfxParamPropEvaluateOnChange, 0);  // writing it must not trigger a re-render
}

OfxStatus describeInContext(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs) {
    const std::string context = getString(inArgs, kOfxImageEffectPropContext);
    OfxPropertySetHandle clip = nullptr;
    check(suites().effect->clipDefine(effect, kOfxImageEffectSimpleSourceClipName, &clip), "clipDefine Source");
    setStrings(clip, kOfxImageEffectPropSupportedComponents, {kOfxImageComponentRGBA, kOfxImageComponentRGB});
    setInt(clip, kOfxImageEffectPropSupportsTiles, 1);
    setInt(clip, kOfxImageEffectPropTemporalClipAccess, 1);  // the model's window (getFramesNeeded)
    if (context == kOfxImageEffectContextGeneral) {
        check(suites().effect->clipDefine(effect, kClipMask, &clip), "clipDefine Mask");
        setStrings(clip, kOfxImageEffectPropSupportedComponents, {kOfxImageComponentAlpha, kOfxImageComponentRGBA});
        setInt(clip, kOfxImageClipPropOptional, 1);
        setInt(clip, kOfxImageClipPropIsMask, 1);
        setInt(clip, kOfxImageEffectPropSupportsTiles, 1);
        setInt(clip, kOfxImageEffectPropTemporalClipAccess, 0);  // the mask of the frame rendered only
    }
    check(suites().effect->clipDefine(effect, kOfxImageEffectOutputClipName, &clip), "clipDefine Output");
    setStrings(clip, kOfxImageEffectPropSupportedComponents, {kOfxImageComponentRGBA, kOfxImageComponentRGB});
    setInt(clip, kOfxImageEffectPropSupportsTiles, 1);

    OfxParamSetHandle params = nullptr;
    check(suites().effect->getParamSet(effect, &params), "getParamSet");
    defineParams(params);
    return kOfxStatOK;
}

OfxParamHandle paramHandle(OfxParamSetHandle set, const char* name) {
    OfxParamHandle handle = nullptr;
    check(suites().param->paramGetHandle(set, name, &handle, nullptr), name);
    return handle;
}

// Everything that can fail (handles, parameter reads, describing the model) happens while `instance` still owns
// the Instance; the host's instance data is set last, so a failed create instance frees it and leaves the host
// nothing to destroy. modelInfo is not written here (OFX allows parameter writes only in instance changed, see
// refreshModelInfo); what the user must know at once - Python unusable, a saved model that is broken, no model -
// is a persistent message, and the model's description is cached for the first instance changed to show.
OfxStatus createInstance(OfxImageEffectHandle effect) {
    auto instance = std::make_unique<Instance>();
    instance->handle = effect;
    const Suites& s = suites();
    check(s.effect->clipGetHandle(effect, kOfxImageEffectSimpleSourceClipName, &instance->source, nullptr), "Source");
    check(s.effect->clipGetHandle(effect, kOfxImageEffectOutputClipName, &instance->output, nullptr), "Output");
    if (s.effect->clipGetHandle(effect, kClipMask, &instance->mask, nullptr) != kOfxStatOK) instance->mask = nullptr;
    OfxParamSetHandle set = nullptr;
    check(s.effect->getParamSet(effect, &set), "getParamSet");
    instance->modelFile = paramHandle(set, kParamModelFile);
    instance->mix = paramHandle(set, kParamMix);
    instance->device = paramHandle(set, kParamDevice);
    instance->tileSize = paramHandle(set, kParamTileSize);
    instance->outputMode = paramHandle(set, kParamOutputMode);
    instance->modelInfo = paramHandle(set, kParamModelInfo);
    instance->keyframesFolder = paramHandle(set, kParamKeyframesFolder);
    instance->sensitivity = paramHandle(set, kParamSensitivity);
    instance->renderLog = paramHandle(set, kParamRenderLog);
    instance->precision = paramHandle(set, kParamPrecision);

    std::string problem;  // an error to show, or empty
    const bool python = bridge::available(problem);
    const BackendParams params = readParams(*instance, 0.0);
    if (python && !params.model.empty()) {
        try {
            const ModelReport described = describeModel(*instance, params);
            if (described.isKeyframeModel() && params.keyframes.empty())
                problem = kPluginName ": " + missingKeyframesMessage(params.model);
        } catch (const BackendError& e) {
            problem = e.userMessage();
        }
    }
    OfxPropertySetHandle props = nullptr;
    check(s.effect->getPropertySet(effect, &props), "getPropertySet");
    setPointer(props, kOfxPropInstanceData, instance.get());
    Instance& created = *instance.release();  // owned by the host's instance from here; freed in destroyInstance

    if (!problem.empty()) showError(created, problem);  // the effect still exists and says what to set
    else if (params.model.empty()) showNoModel(created);
    return kOfxStatOK;
}

OfxStatus destroyInstance(OfxImageEffectHandle effect) {
    OfxPropertySetHandle props = nullptr;
    check(suites().effect->getPropertySet(effect, &props), "getPropertySet");
    delete static_cast<Instance*>(getPointer(props, kOfxPropInstanceData));
    setPointer(props, kOfxPropInstanceData, nullptr);
    return kOfxStatOK;
}

// Every instance changed refreshes modelInfo (a cache hit unless the model, its file or the device changed): a
// project reopened with a model set shows its Model Info after the first change of anything, since create instance
// may not write it. The plug-in's own modelInfo write comes back as a change of modelInfo, which is ignored.
OfxStatus instanceChanged(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs) {
    if (getString(inArgs, kOfxPropName) == kParamModelInfo) return kOfxStatReplyDefault;
    refreshModelInfo(instanceOf(effect), getDouble(inArgs, kOfxPropTime));
    return kOfxStatOK;
}

// The source region the model needs: the requested region grown by the receptive field and aligned for the
// model's processing scale (docs/CONTRACT.md §3). The receptive field comes from the cached model description.
// OFX has one region of interest per clip: it holds for every frame of a temporal model's window as well, so each
// neighbour is fetched over the same region as the frame rendered. A keyframe model's receptive field includes its
// search, and Python crops its keyframes to the region fetched here: nothing else is asked of the host for them.
OfxStatus regionsOfInterest(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
    Instance& instance = instanceOf(effect);
    const OfxTime time = getDouble(inArgs, kOfxPropTime);
    const BackendParams params = readParams(instance, time);
    if (params.model.empty()) return kOfxStatReplyDefault;
    ModelReport report;
    try {
        report = describeModel(instance, params);
    } catch (const BackendError&) {
        return kOfxStatReplyDefault;  // render will fail and say why; the region does not matter then
    }
    const int alignment = std::max(1, static_cast<int>(std::lround(1.0 / report.processingScale)));
    const OfxRectD roi = getRectD(inArgs, kOfxImageEffectPropRegionOfInterest);
    OfxRectD rod{};
    check(suites().effect->clipGetRegionOfDefinition(instance.source, time, &rod), "Source region of definition");
    OfxPropertySetHandle clipProps = nullptr;
    check(suites().effect->clipGetPropertySet(instance.source, &clipProps), "Source properties");
    const double par = getDouble(clipProps, kOfxImagePropPixelAspectRatio, 0, 1.0);
    auto toPixels = [par](const OfxRectD& r) {
        return Rect{static_cast<int>(std::floor(r.x1 / par)), static_cast<int>(std::floor(r.y1)),
                    static_cast<int>(std::ceil(r.x2 / par)), static_cast<int>(std::ceil(r.y2))};
    };
    const Rect frame = toPixels(rod);
    const Rect needed = regionOfInterest(toPixels(roi), report.receptiveField, alignment, frame, frame);
    if (needed.empty()) return kOfxStatReplyDefault;
    setRectD(outArgs, "OfxImageClipPropRoI_" kOfxImageEffectSimpleSourceClipName,
             OfxRectD{needed.x1 * par, double(needed.y1), needed.x2 * par, double(needed.y2)});
    return kOfxStatOK;
}

// The Source frames a render at `time` reads: the model's window [time - before, time + after] inside the Source
// clip's frame range (render passes None for the times outside it, and the backend's edge rule repeats the nearest
// frame there). A single-frame model, or none, needs only `time`: the host's default. OFX lets this action fetch no
// image; it only names frames, from the cached model description.
OfxStatus framesNeeded(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
    Instance& instance = instanceOf(effect);
    const OfxTime time = getDouble(inArgs, kOfxPropTime);
    const BackendParams params = readParams(instance, time);
    if (params.model.empty()) return kOfxStatReplyDefault;
    ModelReport report;
    try {
        report = describeModel(instance, params);
    } catch (const BackendError&) {
        return kOfxStatReplyDefault;  // render will fail and say why; the frames do not matter then
    }
    if (report.windowSize() == 0) return kOfxStatReplyDefault;
    const FrameSpan needed = windowSpan(time, report.framesBefore, report.framesAfter, sourceFrameRange(instance));
    const double range[2] = {needed.first, needed.last};
    check(suites().property->propSetDoubleN(outArgs, "OfxImageClipPropFrameRange_" kOfxImageEffectSimpleSourceClipName,
                                            2, range),
          "frames needed of Source");
    return kOfxStatOK;
}

// Output has the source's components and premultiplication (the model restores colour, keeps alpha).
OfxStatus clipPreferences(OfxImageEffectHandle effect, OfxPropertySetHandle outArgs) {
    Instance& instance = instanceOf(effect);
    OfxPropertySetHandle clipProps = nullptr;
    check(suites().effect->clipGetPropertySet(instance.source, &clipProps), "Source properties");
    const std::string components = getString(clipProps, kOfxImageEffectPropComponents);
    if (components != kOfxImageComponentRGBA && components != kOfxImageComponentRGB) return kOfxStatReplyDefault;
    setString(outArgs, "OfxImageClipPropComponents_" kOfxImageEffectOutputClipName, components);
    const std::string premult = getString(clipProps, kOfxImageEffectPropPreMultiplication);
    if (!premult.empty()) setString(outArgs, kOfxImageEffectPropPreMultiplication, premult);
    return kOfxStatOK;
}

// True when Restored output of `params` is the source bit for bit without asking the model: a repair model at
// Sensitivity 0 repairs no pixel (docs/CONTRACT.md §1.8: dst = src wherever the applied matte is 0). Only a model
// that described itself as a repair model counts; other kinds ignore Sensitivity.
bool repairsNothing(Instance& instance, const BackendParams& params) {
    if (params.sensitivity != 0.0) return false;  // only exactly 0: Python refuses a value outside 0-1
    try {
        return describeModel(instance, params).isRepairModel();
    } catch (const BackendError&) {
        return false;  // render fails and says why
    }
}

// With no model, or Restored at mix 0 or repairing nothing, the output is the source: the host may skip the render.
// Every other output mode shows something else than the source (Damage Matte at mix 0 is black), so it renders.
OfxStatus isIdentity(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
    Instance& instance = instanceOf(effect);
    const BackendParams params = readParams(instance, getDouble(inArgs, kOfxPropTime));
    const bool identity = params.model.empty() || (params.outputMode == "restored" &&
                                                   (params.mix <= 0.0 || repairsNothing(instance, params)));
    if (!identity) return kOfxStatReplyDefault;
    setString(outArgs, kOfxPropName, kOfxImageEffectSimpleSourceClipName);
    setDouble(outArgs, kOfxPropTime, getDouble(inArgs, kOfxPropTime));
    return kOfxStatOK;
}

OfxStatus dispatch(const std::string& action, OfxImageEffectHandle effect, OfxPropertySetHandle inArgs,
                   OfxPropertySetHandle outArgs) {
    if (action == kOfxActionLoad) {
        std::string missing;
        if (!fetchSuites(missing)) return kOfxStatErrMissingHostFeature;
        rememberHost(kPluginIdentifier, kPluginVersionMajor, kPluginVersionMinor);
        return kOfxStatOK;
    }
    if (action == kOfxActionUnload) return kOfxStatOK;  // Python, once started, stays until process exit
    if (action == kOfxActionDescribe) return describe(effect);
    if (action == kOfxImageEffectActionDescribeInContext) return describeInContext(effect, inArgs);
    if (action == kOfxActionCreateInstance) return createInstance(effect);
    if (action == kOfxActionDestroyInstance) return destroyInstance(effect);
    if (action == kOfxActionInstanceChanged) return instanceChanged(effect, inArgs);
    if (action == kOfxImageEffectActionGetRegionsOfInterest) return regionsOfInterest(effect, inArgs, outArgs);
    if (action == kOfxImageEffectActionGetFramesNeeded) return framesNeeded(effect, inArgs, outArgs);
    if (action == kOfxImageEffectActionGetClipPreferences) return clipPreferences(effect, outArgs);
    if (action == kOfxImageEffectActionIsIdentity) return isIdentity(effect, inArgs, outArgs);
    if (action == kOfxImageEffectActionRender) return render(instanceOf(effect), inArgs);
    return kOfxStatReplyDefault;
}

// Show `text` on the instance when there is one (descriptor actions have no instance data to show it on).
void reportFailure(const std::string& action, OfxImageEffectHandle effect, const std::string& text) {
    const bool instanceAction = action != kOfxActionLoad && action != kOfxActionUnload &&
                                action != kOfxActionDescribe && action != kOfxImageEffectActionDescribeInContext;
    if (effect != nullptr && instanceAction && suites().effect != nullptr) {
        OfxPropertySetHandle props = nullptr;
        if (suites().effect->getPropertySet(effect, &props) == kOfxStatOK) {
            if (auto* instance = static_cast<Instance*>(getPointer(props, kOfxPropInstanceData))) {
                showError(*instance, text);
                return;
            }
        }
    }
    if (effect != nullptr && suites().effect != nullptr) setPersistentMessage(effect, kOfxMessageError, text);
}

OfxStatus mainEntry(const char* action, const void* handle, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
    const std::string name = action != nullptr ? action : "";
    auto effect = static_cast<OfxImageEffectHandle>(const_cast<void*>(handle));
    try {
        return dispatch(name, effect, inArgs, outArgs);
    } catch (const BackendError& e) {
        reportFailure(name, effect, e.userMessage());
        return kOfxStatFailed;
    } catch (const OfxError& e) {
        reportFailure(name, effect, std::string(kPluginName ": ") + e.what());
        return e.status() == kOfxStatOK ? kOfxStatFailed : e.status();
    } catch (const std::bad_alloc&) {
        reportFailure(name, effect, kPluginName ": out of memory (try a smaller Tile Size)");
        return kOfxStatErrMemory;
    } catch (const std::exception& e) {
        reportFailure(name, effect, std::string(kPluginName ": ") + e.what());
        return kOfxStatFailed;
    } catch (...) {
        reportFailure(name, effect, kPluginName ": unknown error");
        return kOfxStatFailed;
    }
}

void setHost(OfxHost* host) { suites().host = host; }

OfxPlugin restorePlugin = {kOfxImageEffectPluginApi, 1,         kPluginIdentifier, kPluginVersionMajor,
                           kPluginVersionMinor,      &setHost, &mainEntry};

}  // namespace
}  // namespace chromaluma

// The two symbols a host looks for; everything else in the binary is hidden.
#define CHROMALUMA_OFX_EXPORT extern "C" __attribute__((visibility("default")))

CHROMALUMA_OFX_EXPORT int OfxGetNumberOfPlugins(void) { return 1; }

CHROMALUMA_OFX_EXPORT OfxPlugin* OfxGetPlugin(int nth) { return nth == 0 ? &chromaluma::restorePlugin : nullptr; }
