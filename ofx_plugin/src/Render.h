// The render action of Chromaluma Restore (numbered stages, abort checked between them), the frames of the model's
// temporal window that it fetches (shared with the frames-needed action), and a keyframe model's parameters (shared
// with instance changed, which shows the keyframes in Model Info).
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "Instance.h"

namespace chromaluma {

OfxStatus render(Instance& instance, OfxPropertySetHandle inArgs);

// Describe: what GPU image memory the plug-in takes (ofxGPURender.h). It renders from CPU memory only, so it
// declares CUDA render and CUDA streams "false" (and leaves Metal, OpenCL and OpenGL at their default "false").
void describeGpuRender(OfxPropertySetHandle effectProps);

// Render: throws OfxError(kOfxStatFailed) naming the property when the host says the images are GPU memory
// (CUDA, Metal, OpenCL or OpenGL enabled in `inArgs`) although the plug-in declared that unsupported; called
// before any image is fetched, so a device pointer is never read as CPU memory.
void refuseGpuMemory(OfxPropertySetHandle inArgs);

// The Source clip's region of definition at `time` in pixels (the frame the model's regions are placed in).
Rect sourceFrame(const Instance& instance, OfxTime time);

// The frame number a keyframe model renders at `time`: keyframes are painted on whole frames, so a fractional time
// (a field, a retime, motion-blur samples) takes the nearest whole frame, x.5 rounding up.
inline int keyframeFrame(OfxTime time) { return static_cast<int>(std::floor(time + 0.5)); }

// The message when a keyframe model has no Keyframes folder: render fails with it, instance changed shows it.
std::string missingKeyframesMessage(const std::string& model);

// `params` as process() takes them for the model `described` at `time`: for a keyframe model the Keyframes folder
// with the frame number and the Source frame's size (docs/CONTRACT.md §1.7, the folder form); for any other kind no
// keyframes (the parameter is ignored). False, `params` unchanged, when a keyframe model has no folder.
bool keyframeParams(const Instance& instance, const ModelReport& described, OfxTime time, BackendParams& params);

// An inclusive span of frame times.
struct FrameSpan {
    double first = 0.0, last = 0.0;
    bool contains(double time) const { return time >= first && time <= last; }
};

// The Source clip's frame range (kOfxImageEffectPropFrameRange on the clip), or nullopt when the host says none.
std::optional<FrameSpan> sourceFrameRange(const Instance& instance);

// The frames a model with the window (before, after) reads to restore `time`: [time - before, time + after] clipped
// to `clip` (the clip's frame range, when known), always including `time` itself (the host may render a time
// outside the clip's range; it then serves no neighbour that lies outside it either).
inline FrameSpan windowSpan(double time, int before, int after, const std::optional<FrameSpan>& clip) {
    FrameSpan span{time - before, time + after};
    if (!clip) return span;
    span.first = std::max(span.first, std::min(clip->first, time));
    span.last = std::min(span.last, std::max(clip->last, time));
    return span;
}

}  // namespace chromaluma
