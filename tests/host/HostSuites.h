// The host object ofx-render hands to plug-ins, and the host-wide suites (memory, message, threads, progress,
// time line).
#pragma once

#include "ofxCore.h"

namespace ofxrender {

OfxHost *ofxHost();
// The time line suite reports these (set by the renderer; per thread for the current time).
void setTimeLineBounds(double first, double last);
void setCurrentTime(double time);

}  // namespace ofxrender
