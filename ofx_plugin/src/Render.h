// The render action of Chromaluma Restore (numbered stages, abort checked between them), and the frames of the
// model's temporal window that it fetches (shared with the frames-needed action).
#pragma once

#include <algorithm>
#include <optional>

#include "Instance.h"

namespace chromaluma {

OfxStatus render(Instance& instance, OfxPropertySetHandle inArgs);

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
