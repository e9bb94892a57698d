#include "Instance.h"

#include <sys/stat.h>

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

const char* outputModeName(int choice) {
    switch (choice) {
        case kOutputConfidence: return "confidence";
        case kOutputDifference: return "difference";
        default: return "restored";
    }
}

}  // namespace

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
    int device = kDeviceAuto, mode = kOutputRestored;
    ofx::check(param->paramGetValueAtTime(instance.device, time, &device), kParamDevice);
    ofx::check(param->paramGetValueAtTime(instance.tileSize, time, &p.tileSize), kParamTileSize);
    ofx::check(param->paramGetValueAtTime(instance.outputMode, time, &mode), kParamOutputMode);
    p.device = deviceName(device);
    p.outputMode = outputModeName(mode);
    return p;
}

ModelReport describeModel(Instance& instance, const BackendParams& params) {
    const std::string key = params.model + "\n" + params.device + "\n" + fileStamp(params.model);
    std::lock_guard<std::mutex> lock(instance.mutex);
    if (key != instance.describedKey) {
        instance.described.reset();
        instance.describeError.reset();
        try {
            instance.described = bridge::describe(params);
        } catch (const BackendError& e) {
            instance.describeError = e;
        }
        instance.describedKey = key;
    }
    if (instance.describeError) throw *instance.describeError;
    return *instance.described;
}

void showModelInfo(Instance& instance, const std::string& text) {
    {
        std::lock_guard<std::mutex> lock(instance.mutex);
        if (text == instance.shownInfo) return;
        instance.shownInfo = text;
    }
    ofx::suites().param->paramSetValue(instance.modelInfo, text.c_str());
}

void showError(Instance& instance, const std::string& text) {
    ofx::setPersistentMessage(instance.handle, kOfxMessageError, text);
    instance.errorShown = true;
}

void clearError(Instance& instance) {
    if (instance.errorShown.exchange(false)) ofx::clearPersistentMessage(instance.handle);
}

void refreshModelInfo(Instance& instance, OfxTime time) {
    const BackendParams params = readParams(instance, time);
    if (params.model.empty()) {
        showModelInfo(instance, "No model: choose a Chromaluma .onnx file in Model File.");
        return;
    }
    try {
        const ModelReport report = describeModel(instance, params);
        showModelInfo(instance, report.text());
        clearError(instance);
    } catch (const BackendError& e) {
        showModelInfo(instance, e.userMessage());
        showError(instance, e.userMessage());
    }
}

}  // namespace chromaluma
