// Per-instance state of "Chromaluma Restore": host handles, and the cached description of the current model.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "OfxSuites.h"
#include "Backend.h"

namespace chromaluma {

// Clip and parameter names: part of the contract with hosts and saved projects; never rename.
#define kClipMask "Mask"
#define kParamModelFile "modelFile"
#define kParamMix "mix"
#define kParamDevice "device"
#define kParamTileSize "tileSize"
#define kParamOutputMode "outputMode"
#define kParamModelInfo "modelInfo"
#define kParamKeyframesFolder "keyframesFolder"
#define kParamSensitivity "sensitivity"
#define kParamRenderLog "renderLog"
#define kParamPrecision "precision"

// The persistent warning while no model is set (isIdentity then hands the host the source).
#define kNoModelWarning \
    "Chromaluma Restore: no model set - passing the source through; choose a Chromaluma .onnx file in Model File."

enum DeviceChoice { kDeviceAuto = 0, kDeviceGpu, kDeviceCpu };
// Choice indices are saved in projects: options are only ever appended.
enum OutputModeChoice { kOutputRestored = 0, kOutputConfidence, kOutputDifference, kOutputMatte };
enum PrecisionChoice { kPrecisionFp32 = 0, kPrecisionFp16 };

// Which persistent message the plug-in last put on the instance (every one it sets is remembered): a render
// without warnings clears any, a model that describes itself clears all but a render's warning about its frame.
enum class Shown { Nothing, NoModel, Warning, Error };

struct Instance {
    OfxImageEffectHandle handle = nullptr;
    OfxImageClipHandle source = nullptr, mask = nullptr, output = nullptr;  // mask: general context only
    OfxParamHandle modelFile = nullptr, mix = nullptr, device = nullptr, tileSize = nullptr, outputMode = nullptr,
                   modelInfo = nullptr, keyframesFolder = nullptr, sensitivity = nullptr, renderLog = nullptr,
                   precision = nullptr;

    // Guards the description cache and shownInfo, and only them. Lock order (STYLE.md): never held while taking the
    // GIL, calling the backend or calling the host, because a host that runs Python (Nuke, Natron) calls us with
    // the GIL held: a script setting modelFile would wait for this mutex while a render holding it waited for the
    // GIL.
    std::mutex mutex;
    std::string describedKey;               // model path + device + precision + file time the cache belongs to
    std::optional<ModelReport> described;   // set when the model described itself
    std::optional<BackendError> describeError;
    std::string shownInfo;                  // what modelInfo shows now
    std::atomic<Shown> shown{Shown::Nothing};  // the persistent message on the instance
};

Instance& instanceOf(OfxImageEffectHandle effect);  // throws OfxError when the host lost our instance data

// The backend parameters of the effect's parameters at `time` (window/origin left at their defaults; `keyframes`
// holds the Keyframes parameter whatever the model: see keyframeParams in Render.h; `renderLog` the Render Log
// parameter, the rest of the record's description is render()'s to fill).
BackendParams readParams(const Instance& instance, OfxTime time);

// The host descriptor's name, label and version (kOfxPropName, kOfxPropLabel, kOfxPropVersion,
// kOfxPropVersionLabel) and this plug-in's identity, remembered for Render Log records. Called by the load action:
// the host descriptor (OfxHost::host) is valid from setHost on, and load runs before any instance exists, so the
// description is written once before any render reads it. A host that sets none of them leaves them empty.
void rememberHost(const std::string& plugin, int major, int minor);
const HostDescription& hostDescription();


// The model's description for `params` (cached per model file, its modification time and device). It is asked
// without keyframes (they describe a frame, not the model) and with the default output mode and sensitivity (they
// shape a render, not the model: an error about them, cached here, would outlive the user's fix). Throws the
// BackendError the backend raised (also cached, so a broken model is not reloaded for every region query).
// The backend is called without the instance mutex: two threads that find the cache stale at once both describe
// (the backend's session cache makes the second cheap), and neither waits for the other's model load.
ModelReport describeModel(Instance& instance, const BackendParams& params);

// Describe the current model and show the result in modelInfo; errors become a persistent message. Only from
// kOfxActionInstanceChanged: OFX (ofxParam.h, paramSetValue) lets a plug-in set parameter values only "from within
// a kOfxActionInstanceChanged or interact action", so neither create instance nor render writes modelInfo.
void refreshModelInfo(Instance& instance, OfxTime time);

// Persistent messages on the instance, remembered (see Shown) so that clearMessage() removes whichever is shown.
void showError(Instance& instance, const std::string& text);
void showWarning(Instance& instance, const std::string& text);
void showNoModel(Instance& instance);  // the pass-through warning, set once however often it is asked for
void clearMessage(Instance& instance);

}  // namespace chromaluma
