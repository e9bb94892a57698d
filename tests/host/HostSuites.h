// The host object ofx-render hands to plug-ins, and the host-wide suites (memory, message, threads, progress,
// time line).
#pragma once

#include "ofxCore.h"

namespace ofxrender {

OfxHost *ofxHost();
// kOfxImageEffectPropCudaRenderSupported of the host descriptor: "true" with --cuda-render, else "false". Set before
// any plug-in is loaded (plug-ins may read the host descriptor from the load action on).
void setHostCudaRender(bool offered);
// The time line suite reports these (set by the renderer; per thread for the current time).
void setTimeLineBounds(double first, double last);
void setCurrentTime(double time);

}  // namespace ofxrender
