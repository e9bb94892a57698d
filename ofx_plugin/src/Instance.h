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

enum DeviceChoice { kDeviceAuto = 0, kDeviceGpu, kDeviceCpu };
enum OutputModeChoice { kOutputRestored = 0, kOutputConfidence, kOutputDifference };

struct Instance {
    OfxImageEffectHandle handle = nullptr;
    OfxImageClipHandle source = nullptr, mask = nullptr, output = nullptr;  // mask: general context only
    OfxParamHandle modelFile = nullptr, mix = nullptr, device = nullptr, tileSize = nullptr, outputMode = nullptr,
                   modelInfo = nullptr;

    // Guards the description cache and shownInfo; never held while the backend renders.
    std::mutex mutex;
    std::string describedKey;               // model path + device + file time the cache belongs to
    std::optional<ModelReport> described;   // set when the model described itself
    std::optional<BackendError> describeError;
    std::string shownInfo;                  // what modelInfo shows now
    std::atomic<bool> errorShown{false};    // a persistent error message is on the instance
};

Instance& instanceOf(OfxImageEffectHandle effect);  // throws OfxError when the host lost our instance data

// The backend parameters of the effect's parameters at `time` (window/origin left at their defaults).
BackendParams readParams(const Instance& instance, OfxTime time);

// The model's description for `params` (cached per model file, its modification time and device); throws the
// BackendError the backend raised (also cached, so a broken model is not reloaded for every region query).
ModelReport describeModel(Instance& instance, const BackendParams& params);

// Describe the current model and show the result in modelInfo; errors become a persistent message.
void refreshModelInfo(Instance& instance, OfxTime time);

// Show `text` in modelInfo when it differs from what is shown. Only from actions where OFX allows parameter
// writes (create instance, instance changed), never from render.
void showModelInfo(Instance& instance, const std::string& text);

// Persistent error message on the instance (remembered, so a later success clears it).
void showError(Instance& instance, const std::string& text);
void clearError(Instance& instance);

}  // namespace chromaluma
