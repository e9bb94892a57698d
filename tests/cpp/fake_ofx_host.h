// A minimal in-process OpenFX host for unit tests of the plug-in's actions: property, image effect, parameter and
// message suites over plain maps, one effect that is descriptor and instance at once, float RGBA images. It keeps
// what a test asserts on: the persistent message, parameter values, and every parameter write made outside
// kOfxActionInstanceChanged (the only action where ofxParam.h lets a plug-in call paramSetValue).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ofxCore.h"
#include "ofxImageEffect.h"
#include "ofxParam.h"

namespace fakehost {

struct Props {
    std::map<std::string, std::vector<std::string>> strings;
    std::map<std::string, std::vector<int>> ints;
    std::map<std::string, std::vector<double>> doubles;
    std::map<std::string, void*> pointers;
    OfxPropertySetHandle handle() { return reinterpret_cast<OfxPropertySetHandle>(this); }
};

struct Param {
    Props props;
    std::string type, text;
    double number = 0.0;
    int integer = 0;
};

struct Clip {
    Props props;
    std::vector<float> pixels;  // RGBA float, rows bottom-up, bounds = the clip's region of definition
    int width = 0, height = 0;
    std::string depth = kOfxBitDepthFloat, components = kOfxImageComponentRGBA;  // what its images say they hold
    // Temporal access: an image at time T holds framePixels[T] when set (else `pixels`); times in `missingAt` have
    // no image (clipGetImage fails), times in `narrowAt` give an image one column narrower than the clip, times in
    // `shortAt` an image that says it holds 16-bit samples.
    std::map<double, std::vector<float>> framePixels;
    std::set<double> missingAt, narrowAt, shortAt;
    std::vector<double> fetchedTimes;  // every clipGetImage time, in call order
};

struct Effect {
    Props props;
    std::map<std::string, std::unique_ptr<Clip>> clips;
    std::map<std::string, std::unique_ptr<Param>> params;
    std::string messageType, message;  // the persistent message; empty type when none
    OfxImageEffectHandle handle() { return reinterpret_cast<OfxImageEffectHandle>(this); }
};

struct Host {
    std::mutex mutex;                    // guards the records below (actions may run on several threads)
    std::string action;                  // the action being called (set by call())
    std::vector<std::string> writesOutsideInstanceChanged;  // "param during action"
    bool failParamReads = false;         // paramGetValueAtTime fails (a host losing a parameter)
    int imagesHeld = 0;
    int abortOnCall = 0;                 // abort() answers 1 from its N-th call on (0: never)
    int abortCalls = 0;
};

Host& host();

// The effect after load, describe and describe in `context`, with parameter values at their defaults and
// `width` x `height` source and output images. The plug-in's entry point is OfxGetPlugin(0).
std::unique_ptr<Effect> describedEffect(const char* context, int width, int height);

// Calls the plug-in's entry point with `action` (recorded in host().action while it runs).
OfxStatus call(const char* action, Effect* effect, Props* inArgs = nullptr, Props* outArgs = nullptr);

// kOfxActionInstanceChanged for a user edit of parameter `name` at `time`, bracketed by begin/end.
OfxStatus changed(Effect& effect, const std::string& name, double time = 0.0);

// kOfxImageEffectActionRender at `time` of `window` (x1, y1, x2, y2), or of the whole frame.
OfxStatus render(Effect& effect, double time);
OfxStatus render(Effect& effect, double time, const OfxRectI& window);

void* instanceData(Effect& effect);

// kOfxImageEffectActionGetFramesNeeded at `time`; `range` receives OfxImageClipPropFrameRange_Source as the host
// initialised it ({time, time}) or as the plug-in set it.
OfxStatus framesNeeded(Effect& effect, double time, std::vector<double>& range);

}  // namespace fakehost
