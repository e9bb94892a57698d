#include "Instance.h"

#include <sys/stat.h>

#include "Render.h"

namespace chromaluma {
namespace {

std::string fileStamp(const std::string& path) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) return "missing";
    return std::to_string(info.st_mtim.tv_sec) + "." + std::to_string(info.st_mtim.tv_nsec) + ":" +
           std::to_string(info.st_size);
}

const char* deviceName(int choice) {
    switch (choice) {
        case kDeviceGpu: return "gpu";
        case kDeviceCpu: return "cpu";
        default: return "auto";
    }
}

const char* precisionName(int choice) { return choice == kPrecisionFp16 ? "fp16" : "fp32"; }

const char* outputModeName(int choice) {
    switch (choice) {
        case kOutputConfidence: return "confidence";
        case kOutputDifference: return "difference";
        case kOutputMatte: return "matte";
        default: return "restored";
    }
}

// Written by rememberHost() only (the load action), read by renders.
HostDescription& hostStore() {
    static HostDescription description;
    return description;
}

}  // namespace

void rememberHost(const std::string& plugin, int major, int minor) {
    HostDescription description;
    description.plugin = plugin;
    description.pluginMajor = major;
    description.pluginMinor = minor;
    const OfxHost* host = ofx::suites().host;
    if (host != nullptr && host->host != nullptr) {
        description.name = ofx::getString(host->host, kOfxPropName);
        description.label = ofx::getString(host->host, kOfxPropLabel);
        description.versionLabel = ofx::getString(host->host, kOfxPropVersionLabel);
        // kOfxPropVersion has any number of ints (major, minor, micro, ...): read until the host has no more,
        // without propGetDimension, which not every host provides.
        int part = 0;
        for (int i = 0; i < 8 && ofx::suites().property->propGetInt(host->host, kOfxPropVersion, i, &part) == kOfxStatOK;
             ++i)
            description.version.push_back(part);
    }
    hostStore() = std::move(description);
}

const HostDescription& hostDescription() { return hostStore(); }

Instance& instanceOf(OfxImageEffectHandle effect) {
    OfxPropertySetHandle props = nullptr;
    ofx::check(ofx::suites().effect->getPropertySet(effect, &props), "getPropertySet");
    auto* instance = static_cast<Instance*>(ofx::getPointer(props, kOfxPropInstanceData));
    if (instance == nullptr) throw ofx::OfxError(kOfxStatErrBadHandle, "the effect instance has no Chromaluma data");
    return *instance;
}

BackendParams readParams(const Instance& instance, OfxTime time) {
    const OfxParameterSuiteV1* param = ofx::suites().param;
    BackendParams p;
    char* model = nullptr;
    ofx::check(param->paramGetValueAtTime(instance.modelFile, time, &model), kParamModelFile);
    p.model = model != nullptr ? model : "";
    ofx::check(param->paramGetValueAtTime(instance.mix, time, &p.mix), kParamMix);
    int device = kDeviceAuto, mode = kOutputRestored, precision = kPrecisionFp32;
    ofx::check(param->paramGetValueAtTime(instance.device, time, &device), kParamDevice);
    ofx::check(param->paramGetValueAtTime(instance.tileSize, time, &p.tileSize), kParamTileSize);
    ofx::check(param->paramGetValueAtTime(instance.outputMode, time, &mode), kParamOutputMode);
    ofx::check(param->paramGetValueAtTime(instance.sensitivity, time, &p.sensitivity), kParamSensitivity);
    ofx::check(param->paramGetValueAtTime(instance.precision, time, &precision), kParamPrecision);
    char* keyframes = nullptr;
    ofx::check(param->paramGetValueAtTime(instance.keyframesFolder, time, &keyframes), kParamKeyframesFolder);
    p.keyframes = keyframes != nullptr ? keyframes : "";
    char* renderLog = nullptr;
    ofx::check(param->paramGetValueAtTime(instance.renderLog, time, &renderLog), kParamRenderLog);
    p.renderLog = renderLog != nullptr ? renderLog : "";
    p.device = deviceName(device);
    p.outputMode = outputModeName(mode);
    p.precision = precisionName(precision);
    return p;
}

ModelReport describeModel(Instance& instance, const BackendParams& given) {
    BackendParams params = given;
    params.keyframes.clear();  // the model's description does not depend on the frame or its keyframes
    params.renderLog.clear();  // nor on where renders are logged (describing logs nothing)
    params.outputMode = BackendParams{}.outputMode;  // nor on how a render is shown or how much it repairs
    params.sensitivity = BackendParams{}.sensitivity;
    const std::string key = params.model + "\n" + params.device + "\n" + params.precision + "\n" +
                            fileStamp(params.model);
    {
        std::lock_guard<std::mutex> lock(instance.mutex);
        if (key == instance.describedKey) {
            if (instance.describeError) throw *instance.describeError;
            return *instance.described;
        }
    }
    std::optional<ModelReport> described;  // the backend takes the GIL: the mutex is not held here (Instance.h)
    std::optional<BackendError> error;
    try {
        described = bridge::describe(params);
    } catch (const BackendError& e) {
        error = e;
    }
    {
        std::lock_guard<std::mutex> lock(instance.mutex);
        instance.describedKey = key;
        instance.described = described;
        instance.describeError = error;
    }
    if (error) throw *error;
    return *described;
}

namespace {

// Write modelInfo when its text changes (the host is called outside the mutex).
void showModelInfo(Instance& instance, const std::string& text) {
    {
        std::lock_guard<std::mutex> lock(instance.mutex);
        if (text == instance.shownInfo) return;
        instance.shownInfo = text;
    }
    ofx::suites().param->paramSetValue(instance.modelInfo, text.c_str());
}

// Clear the message unless it is a render's warning about its frame (the next render decides about that one).
void clearUnlessWarning(Instance& instance) {
    Shown current = instance.shown.load();
    while (current != Shown::Nothing && current != Shown::Warning) {
        if (instance.shown.compare_exchange_weak(current, Shown::Nothing)) {
            ofx::clearPersistentMessage(instance.handle);
            return;
        }
    }
}

// Model Info's line about a keyframe model's keyframes at the frame of `keyed` (its folder form), as the backend
// names them for that frame (the RenderReport of describing with the folder: the pair a render of that frame uses;
// render itself may not write parameters). Throws the backend's error (a folder that cannot be read, a frame whose
// shot has no keyframe): a render of that frame would fail with it.
std::string keyframesInfo(BackendParams keyed) {
    keyed.outputMode = BackendParams{}.outputMode;  // the keyframes a frame uses do not depend on these
    keyed.sensitivity = BackendParams{}.sensitivity;
    const ModelReport atFrame = bridge::describe(keyed);  // the GIL: no instance mutex held (Instance.h)
    const std::string used = atFrame.keyframesText();
    return used.empty() ? "keyframes from " + keyed.keyframes : "frame " + std::to_string(keyed.frame) + ": " + used;
}

// Why Output Mode Damage Matte cannot show `model`, and what to choose instead.
std::string noMatteMessage(const std::string& model) {
    return model + " has no damage matte (only damage-repair models have one); choose Restored, Confidence or "
           "Difference.";
}

}  // namespace

void showError(Instance& instance, const std::string& text) {
    instance.shown = Shown::Error;
    ofx::setPersistentMessage(instance.handle, kOfxMessageError, text);
}

void showWarning(Instance& instance, const std::string& text) {
    instance.shown = Shown::Warning;
    ofx::setPersistentMessage(instance.handle, kOfxMessageWarning, text);
}

void showNoModel(Instance& instance) {
    if (instance.shown.exchange(Shown::NoModel) != Shown::NoModel)
        ofx::setPersistentMessage(instance.handle, kOfxMessageWarning, kNoModelWarning);
}

void clearMessage(Instance& instance) {
    if (instance.shown.exchange(Shown::Nothing) != Shown::Nothing) ofx::clearPersistentMessage(instance.handle);
}

void refreshModelInfo(Instance& instance, OfxTime time) {
    std::string why;
    if (!bridge::available(why)) {  // checked first: without Python no model can work, set or not
        showModelInfo(instance, why);
        showError(instance, why);
        return;
    }
    const BackendParams params = readParams(instance, time);
    if (params.model.empty()) {
        showModelInfo(instance, "No model: choose a Chromaluma .onnx file in Model File.");
        showNoModel(instance);
        return;
    }
    try {
        const ModelReport report = describeModel(instance, params);
        BackendParams keyed = params;
        if (!keyframeParams(instance, report, time, keyed)) {
            showModelInfo(instance, report.text() + "\nkeyframes: none (Keyframes is empty)");
            showError(instance, "Chromaluma Restore: " + missingKeyframesMessage(params.model));
            return;
        }
        std::string info = report.text();
        if (params.outputMode == "matte" && !report.isRepairModel()) {  // render would fail with Python's message
            showModelInfo(instance, info + "\nOutput Mode Damage Matte: " + noMatteMessage(params.model));
            showError(instance, "Chromaluma Restore: Output Mode Damage Matte: " + noMatteMessage(params.model));
            return;
        }
        if (!report.isKeyframeModel()) {
            if (!params.keyframes.empty()) info += "\nKeyframes: ignored (not a keyframe model)";
        } else {
            try {
                info += "\n" + keyframesInfo(keyed);
            } catch (const BackendError& e) {  // the model is fine; this frame's keyframes are not
                showModelInfo(instance, info + "\nkeyframes: " + e.userMessage());
                showError(instance, e.userMessage());
                return;
            }
        }
        showModelInfo(instance, info);
        clearUnlessWarning(instance);
    } catch (const BackendError& e) {
        showModelInfo(instance, e.userMessage());
        showError(instance, e.userMessage());
    }
}

}  // namespace chromaluma
