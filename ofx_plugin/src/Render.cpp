// Render: 1 fetch the host's images (the frame, and for a temporal-window model its neighbours) → 2 wrap them as
// views (no copy) → 3 chromaluma.api.process writes the output image directly → 4 report. Abort is checked before
// and after the backend call. Every fetched image is released before render returns, on every path. A keyframe
// model's keyframes are not fetched here: Python reads them from the Keyframes folder (docs/CONTRACT.md §1.7).
#include "Render.h"

#include <cmath>
#include <cstring>
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ofxGPURender.h"

namespace chromaluma {
namespace {

using namespace ofx;

// An image fetched from a clip, released when it goes out of scope (before the action returns).
class FetchedImage {
public:
    // `region` nullptr: the region of interest the plug-in declared (the same for every frame of the window).
    FetchedImage(OfxImageClipHandle clip, OfxTime time) {
        if (clip != nullptr && suites().effect->clipGetImage(clip, time, nullptr, &handle_) != kOfxStatOK) handle_ = nullptr;
    }
    ~FetchedImage() {
        if (handle_ != nullptr) suites().effect->clipReleaseImage(handle_);
    }
    FetchedImage(const FetchedImage&) = delete;
    FetchedImage& operator=(const FetchedImage&) = delete;

    bool present() const { return handle_ != nullptr; }
    OfxPropertySetHandle props() const { return handle_; }
    ImageView view() const {
        const Rect bounds = getRectI(handle_, kOfxImagePropBounds);
        const auto rowBytes = static_cast<std::ptrdiff_t>(getInt(handle_, kOfxImagePropRowBytes));
        return ImageView(getPointer(handle_, kOfxImagePropData), bounds, rowBytes,
                         depthFromString(getString(handle_, kOfxImageEffectPropPixelDepth)),
                         componentCount(getString(handle_, kOfxImageEffectPropComponents)));
    }

private:
    OfxPropertySetHandle handle_ = nullptr;
};

bool clipConnected(OfxImageClipHandle clip) {
    if (clip == nullptr) return false;
    OfxPropertySetHandle props = nullptr;
    return suites().effect->clipGetPropertySet(clip, &props) == kOfxStatOK && getInt(props, kOfxImageClipPropConnected) != 0;
}

void requireRenderable(const ImageView& view, const char* clip) {
    if (!view.valid() || (view.components() != 3 && view.components() != 4))
        throw OfxError(kOfxStatErrImageFormat, std::string(clip) + " image is not RGB/RGBA 8-bit, 16-bit or float");
}

// Zero the rows of `window` (in `dst`) that lie outside `keep`: pixels the source does not cover are transparent.
void clearOutside(const ImageView& dst, const Rect& window, const Rect& keep) {
    for (int y = window.y1; y < window.y2; ++y) {
        for (int x = window.x1; x < window.x2; ++x) {
            const bool inside = x >= keep.x1 && x < keep.x2 && y >= keep.y1 && y < keep.y2;
            if (inside) {
                x = keep.x2 - 1;  // jump over the kept span of this row
                continue;
            }
            std::memset(dst.pixelAddress(x, y), 0, static_cast<size_t>(dst.pixelBytes()));
        }
    }
}

// The mask over `region` as a single-channel view: the host's alpha channel in place when its image covers the
// region, otherwise a float copy padded with 0 (outside a mask image nothing is restored).
ArrayArg maskArgument(const ImageView& mask, const Rect& region, std::vector<float>& copy) {
    ArrayArg arg;
    const int channel = mask.components() - 1;  // Alpha: 0; RGBA: alpha
    const std::ptrdiff_t bytes = bytesPerComponent(mask.depth());
    if (mask.bounds().contains(region)) {
        arg.layout = mask.topDown(region);
        arg.layout.first += channel * bytes;
        arg.layout.components = 1;
        arg.depth = mask.depth();
        return arg;
    }
    const double scale = mask.depth() == BitDepth::Byte ? 255.0 : mask.depth() == BitDepth::Short ? 65535.0 : 1.0;
    copy.assign(static_cast<size_t>(region.width()) * region.height(), 0.0f);
    const Rect covered = intersect(region, mask.bounds());
    for (int y = covered.y1; y < covered.y2; ++y) {
        for (int x = covered.x1; x < covered.x2; ++x) {
            const unsigned char* p = mask.pixelAddress(x, y) + channel * bytes;
            double v = 0.0;
            if (mask.depth() == BitDepth::Byte) v = *p;
            else if (mask.depth() == BitDepth::Short) v = *reinterpret_cast<const std::uint16_t*>(p);
            else v = *reinterpret_cast<const float*>(p);
            copy[static_cast<size_t>(region.y2 - 1 - y) * region.width() + (x - region.x1)] = float(v / scale);
        }
    }
    arg.layout = {reinterpret_cast<unsigned char*>(copy.data()), region.height(), region.width(), 1,
                  static_cast<std::ptrdiff_t>(region.width() * sizeof(float)), sizeof(float), sizeof(float)};
    arg.depth = BitDepth::Float;
    return arg;
}

bool premultiplied(const FetchedImage& image, const Instance& instance) {
    std::string state = getString(image.props(), kOfxImageEffectPropPreMultiplication);
    if (state.empty()) {
        OfxPropertySetHandle props = nullptr;
        if (suites().effect->clipGetPropertySet(instance.source, &props) == kOfxStatOK)
            state = getString(props, kOfxImageEffectPropPreMultiplication);
    }
    return state != kOfxImageUnPreMultiplied;  // premultiplied or opaque (where it makes no difference)
}

// The source region the backend reads (the output region grown by the receptive field, aligned for the
// processing scale, clipped to what the host gave) and where the output region and it lie (docs/CONTRACT.md §1.1).
Rect placeRegions(const Rect& frame, const ImageView& src, const Rect& region, const ModelReport& model,
                  BackendParams& params) {
    const int alignment = std::max(1, static_cast<int>(std::lround(1.0 / model.processingScale)));
    const Rect fetched = regionOfInterest(region, model.receptiveField, alignment, frame, src.bounds());
    params.windowX = region.x1 - fetched.x1;
    params.windowY = fetched.y2 - region.y2;
    topDownPosition(frame, fetched.x1, fetched.y2, params.originX, params.originY);
    return fetched;
}

// After a successful render: what the backend warned about on this frame (GPU fallback, non-finite samples)
// becomes a persistent warning, and a frame without warnings clears whatever message is shown, an earlier frame's
// warning included. modelInfo is not written here: OFX lets a plug-in set parameter values only in instance changed
// (ofxParam.h, paramSetValue), where refreshModelInfo() shows the same provider and fallback warnings, since
// describing the model creates the session the renders use.
void reportAfterRender(Instance& instance, const std::vector<std::string>& warnings) {
    if (warnings.empty()) {
        clearMessage(instance);
        return;
    }
    std::string text = "Chromaluma Restore:";
    for (const std::string& w : warnings) text += " " + w;
    showWarning(instance, text);
}

// The times of the window's other frames, in the window's order (t-before ... t-1, t+1 ... t+after).
std::vector<OfxTime> neighbourTimes(OfxTime time, const ModelReport& model) {
    std::vector<OfxTime> times;
    for (int k = model.framesBefore; k >= 1; --k) times.push_back(time - k);
    for (int k = 1; k <= model.framesAfter; ++k) times.push_back(time + k);
    return times;
}

// The window's other frames from Source (docs/CONTRACT.md §1.6), in the window's order t-before ... t-1, t+1 ...
// t+after. A time outside the Source clip's frame range is not asked for (OFX: the clip has no image there); such
// entries, and images the host could not give, stay null. The images are released when the vector goes.
std::vector<std::unique_ptr<FetchedImage>> fetchNeighbours(const Instance& instance, OfxTime time,
                                                           const ModelReport& model) {
    std::vector<std::unique_ptr<FetchedImage>> images;
    const std::optional<FrameSpan> clip = sourceFrameRange(instance);
    for (const OfxTime at : neighbourTimes(time, model)) {
        if (clip && !clip->contains(at)) images.push_back(nullptr);
        else images.push_back(std::make_unique<FetchedImage>(instance.source, at));
    }
    return images;
}

std::string frameName(OfxTime time) {
    const double whole = std::round(time);
    return whole == time ? std::to_string(static_cast<long long>(whole)) : std::to_string(time);
}

// The neighbours as backend arguments over `region` of the frame rendered (the same region of each neighbouring
// frame). A neighbour is used only when its image matches the frame rendered in depth and components and covers
// `region`; otherwise it is passed as missing (the backend's edge rule repeats the nearest frame between it and the
// centre) and `warnings` says so: a shifted or cropped region would give the model misaligned frames.
std::vector<NeighbourArg> neighbourArguments(const std::vector<std::unique_ptr<FetchedImage>>& images,
                                             const std::vector<OfxTime>& times, const ImageView& src,
                                             const Rect& region, const std::optional<FrameSpan>& clip,
                                             std::vector<std::string>& warnings) {
    std::vector<NeighbourArg> arguments;
    for (size_t i = 0; i < images.size(); ++i) {
        const std::string at = "Source frame " + frameName(times[i]);
        if (images[i] == nullptr || !images[i]->present()) {
            if (!clip || clip->contains(times[i]))
                warnings.push_back("the host gave no image of " + at + "; the model's window repeats the nearest "
                                   "frame instead.");
            arguments.emplace_back(std::nullopt);
            continue;
        }
        const ImageView view = images[i]->view();
        std::string problem;
        if (!view.valid() || view.depth() != src.depth() || view.components() != src.components())
            problem = "has another pixel depth or components than the frame rendered";
        else if (!view.bounds().contains(region))
            problem = "does not cover the region the frame rendered needs";
        if (!problem.empty()) {
            warnings.push_back(at + " " + problem + "; the model's window repeats the nearest frame instead.");
            arguments.emplace_back(std::nullopt);
            continue;
        }
        arguments.emplace_back(ArrayArg{view.topDown(region), view.depth(), false});
    }
    return arguments;
}

// Sets a descriptor property a host older than OpenFX 1.5 may not know: such a host passes CPU memory only, so
// its refusal (kOfxStatErrUnknown) leaves nothing to agree on; any other refusal is an error.
void setIfKnown(OfxPropertySetHandle props, const char* name, const char* value) {
    const OfxStatus status = suites().property->propSetString(props, name, 0, value);
    if (status != kOfxStatErrUnknown) check(status, name);
}

// The render flags by which a host says the images are GPU memory, and what that memory is.
struct GpuMemoryFlag {
    const char* property;
    const char* memory;
};
constexpr GpuMemoryFlag kGpuMemoryFlags[] = {
    {kOfxImageEffectPropCudaEnabled, "CUDA device memory"},
    {kOfxImageEffectPropMetalEnabled, "Metal buffers"},
    {kOfxImageEffectPropOpenCLEnabled, "OpenCL memory"},
    {kOfxImageEffectPropOpenGLEnabled, "OpenGL textures"},
};

}  // namespace

// "false" until render can take device memory: process() reads and writes numpy arrays in CPU memory
// (docs/CONTRACT.md §1.1), so CUDA images would have to be copied to the CPU and back by the plug-in, which is what
// a host does itself, often better, for an effect that says "false". Whether the embedded Python's ONNX Runtime has
// a CUDA provider does not change that answer, so describe starts no Python (a host describes every plug-in at
// start-up). The model still runs on the GPU (the Device parameter) from the CPU images the host gives.
void describeGpuRender(OfxPropertySetHandle effectProps) {
    setIfKnown(effectProps, kOfxImageEffectPropCudaRenderSupported, "false");
    setIfKnown(effectProps, kOfxImageEffectPropCudaStreamSupported, "false");
}

void refuseGpuMemory(OfxPropertySetHandle inArgs) {
    for (const GpuMemoryFlag& flag : kGpuMemoryFlags) {
        if (getInt(inArgs, flag.property, 0, 0) == 0) continue;  // absent (a host before 1.5) or 0: CPU memory
        throw OfxError(kOfxStatFailed,
                       std::string("the host gave the images as ") + flag.memory + " (" + flag.property +
                           " = 1), but this plug-in declared that unsupported and reads CPU memory only; turn off "
                           "GPU image processing for this effect in the host (the model still runs on the GPU, "
                           "see Device).");
    }
}

OfxStatus render(Instance& instance, OfxPropertySetHandle inArgs) {
    refuseGpuMemory(inArgs);  // before anything reads an image's data
    const OfxTime time = getDouble(inArgs, kOfxPropTime);
    const Rect window = getRectI(inArgs, kOfxImageEffectPropRenderWindow);
    const double scaleX = getDouble(inArgs, kOfxImageEffectPropRenderScale, 0, 1.0);
    const double scaleY = getDouble(inArgs, kOfxImageEffectPropRenderScale, 1, 1.0);
    if (scaleX != 1.0 || scaleY != 1.0)
        throw OfxError(kOfxStatErrUnsupported, "render scale is not 1 although the plug-in declares no multi-resolution");
    BackendParams params = readParams(instance, time);
    if (params.model.empty()) throw OfxError(kOfxStatFailed, "no model: choose a Chromaluma .onnx file in Model File");
    if (!params.renderLog.empty()) {  // what the record says about this render beside the backend parameters
        params.host = hostDescription();
        params.time = time;
        params.renderWindow = window;
        params.renderScaleX = scaleX;
        params.renderScaleY = scaleY;
    }
    const ModelReport described = describeModel(instance, params);  // throws the model's error (missing, corrupt)
    if (!keyframeParams(instance, described, time, params))
        throw OfxError(kOfxStatFailed, missingKeyframesMessage(params.model));
    if (suites().effect->abort(instance.handle) != 0) return kOfxStatOK;

    // 1. fetch (the neighbours after the frame itself: a host may refuse them, never the frame)
    FetchedImage dstImage(instance.output, time), srcImage(instance.source, time);
    std::optional<FetchedImage> maskImage;
    if (clipConnected(instance.mask)) maskImage.emplace(instance.mask, time);
    if (!dstImage.present() || !srcImage.present()) throw OfxError(kOfxStatFailed, "the host gave no Source or Output image");
    const std::vector<std::unique_ptr<FetchedImage>> neighbourImages = fetchNeighbours(instance, time, described);
    if (suites().effect->abort(instance.handle) != 0) return kOfxStatOK;

    // 2. views (depth and components read from the images, never assumed)
    const ImageView dst = dstImage.view(), src = srcImage.view();
    requireRenderable(dst, "Output");
    requireRenderable(src, "Source");
    const Rect target = intersect(window, dst.bounds());
    const Rect region = intersect(target, src.bounds());
    clearOutside(dst, target, region);
    if (region.empty()) return kOfxStatOK;
    const Rect fetched = placeRegions(sourceFrame(instance, time), src, region, described, params);
    params.premultiplied = premultiplied(srcImage, instance);
    const ArrayArg srcArg{src.topDown(fetched), src.depth(), false};
    const ArrayArg dstArg{dst.topDown(region), dst.depth(), true};
    std::vector<std::string> warnings;
    const std::vector<NeighbourArg> neighbours =
        neighbourArguments(neighbourImages, neighbourTimes(time, described), src, fetched, sourceFrameRange(instance),
                           warnings);
    std::vector<float> maskCopy;
    std::optional<ArrayArg> maskArg;
    if (maskImage && maskImage->present()) {
        const ImageView mask = maskImage->view();
        if (mask.valid()) maskArg = maskArgument(mask, region, maskCopy);
    }

    // 3. the backend writes straight into the host's output image
    if (suites().effect->abort(instance.handle) != 0) return kOfxStatOK;
    const ModelReport rendered = bridge::process(srcArg, dstArg, maskArg ? &*maskArg : nullptr, neighbours, params);
    if (suites().effect->abort(instance.handle) != 0) return kOfxStatOK;  // the host discards this frame

    // 4. report
    warnings.insert(warnings.end(), rendered.warnings.begin(), rendered.warnings.end());
    reportAfterRender(instance, warnings);
    return kOfxStatOK;
}

Rect sourceFrame(const Instance& instance, OfxTime time) {
    OfxRectD rod{};
    check(suites().effect->clipGetRegionOfDefinition(instance.source, time, &rod), "Source region of definition");
    OfxPropertySetHandle props = nullptr;
    check(suites().effect->clipGetPropertySet(instance.source, &props), "Source properties");
    const double par = getDouble(props, kOfxImagePropPixelAspectRatio, 0, 1.0);
    return Rect{static_cast<int>(std::floor(rod.x1 / par)), static_cast<int>(std::floor(rod.y1)),
                static_cast<int>(std::ceil(rod.x2 / par)), static_cast<int>(std::ceil(rod.y2))};
}

std::string missingKeyframesMessage(const std::string& model) {
    return model + " is a keyframe model but Keyframes is empty: set Keyframes to the folder of its registered "
           "keyframes (RUN/keyframes, written by `chromaluma train --kind keyframes`).";
}

bool keyframeParams(const Instance& instance, const ModelReport& described, OfxTime time, BackendParams& params) {
    if (!described.isKeyframeModel()) {
        params.keyframes.clear();  // process() refuses keyframes for other kinds; the parameter says it is ignored
        return true;
    }
    if (params.keyframes.empty()) return false;
    params.frame = keyframeFrame(time);
    // The frame's size lets Python check that the registered keyframes were made for this scan's geometry; a host
    // that gives no region of definition (outside render) leaves it unknown.
    params.frameWidth = params.frameHeight = 0;
    try {
        const Rect frame = sourceFrame(instance, time);
        params.frameWidth = std::max(0, frame.width());
        params.frameHeight = std::max(0, frame.height());
    } catch (const OfxError&) {
    }
    return true;
}

std::optional<FrameSpan> sourceFrameRange(const Instance& instance) {
    OfxPropertySetHandle props = nullptr;
    if (suites().effect->clipGetPropertySet(instance.source, &props) != kOfxStatOK) return std::nullopt;
    double range[2] = {0.0, 0.0};
    if (suites().property->propGetDoubleN(props, kOfxImageEffectPropFrameRange, 2, range) != kOfxStatOK ||
        range[1] < range[0])
        return std::nullopt;
    return FrameSpan{range[0], range[1]};
}

}  // namespace chromaluma
