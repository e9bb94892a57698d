// Rendering frames in ofx-render: the frame store, typed parameter values from text, and the per-frame action
// sequence (region of definition, regions of interest, identity, render) with the output written to a file.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "HostSuites.h"
#include "ImageIO.h"
#include "Session.h"

namespace ofxrender {

namespace {

std::vector<std::string> splitCommas(const std::string &text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return parts;
    start = comma + 1;
  }
}

bool parseBoolean(const std::string &t, double &out) {
  if (t == "1" || t == "true" || t == "yes" || t == "on") out = 1;
  else if (t == "0" || t == "false" || t == "no" || t == "off") out = 0;
  else return false;
  return true;
}

bool parseChoice(Param &param, const std::string &t, double &out, std::string &error) {
  const std::vector<std::string> options = param.props.getStrings(kOfxParamPropChoiceOption);
  for (std::size_t i = 0; i < options.size(); ++i) {
    if (options[i] == t) {
      out = static_cast<double>(i);
      return true;
    }
  }
  char *end = nullptr;
  const long index = std::strtol(t.c_str(), &end, 10);
  if (!t.empty() && *end == '\0' && index >= 0 && index < static_cast<long>(options.size())) {
    out = static_cast<double>(index);
    return true;
  }
  error = "not one of the choice's options:";
  for (const std::string &o : options) error += " \"" + o + "\"";
  return false;
}

}  // namespace

bool setParamFromText(Param &param, const std::string &text, std::string &error) {
  if (param.isText()) {
    std::lock_guard<std::mutex> lock(param.textMutex);
    param.text = text;
    return true;
  }
  if (param.type == kOfxParamTypePushButton) return true;  // "pressing" it is the instance-changed call
  if (param.dimension() == 0) {
    error = "a " + param.type + " has no value";
    return false;
  }
  const std::vector<std::string> parts = splitCommas(text);
  if (static_cast<int>(parts.size()) != param.dimension()) {
    error = "expected " + std::to_string(param.dimension()) + " comma-separated values for " + param.type;
    return false;
  }
  std::vector<double> values(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (param.type == kOfxParamTypeBoolean) {
      if (!parseBoolean(parts[i], values[i])) return error = "expected true/false or 1/0", false;
    } else if (param.type == kOfxParamTypeChoice) {
      if (!parseChoice(param, parts[i], values[i], error)) return false;
    } else {
      char *end = nullptr;
      values[i] = param.isIntegral() ? std::strtol(parts[i].c_str(), &end, 10) : std::strtod(parts[i].c_str(), &end);
      if (parts[i].empty() || *end != '\0') return error = "not a number: " + parts[i], false;
    }
  }
  param.values = values;
  return true;
}

// ---- FrameStore ----

OfxRectI FrameStore::bounds(int width, int height) const {
  const int x1 = static_cast<int>(std::lround(options_.originX * options_.renderScale));
  const int y1 = static_cast<int>(std::lround(options_.originY * options_.renderScale));
  return OfxRectI{x1, y1, x1 + width, y1 + height};
}

void FrameStore::setInputComponents(const std::string &clip, int components) {
  std::lock_guard<std::mutex> lock(mutex_);
  components_[clip] = components;
}

std::shared_ptr<HostImage> FrameStore::load(const std::string &clip, int frame, int components) const {
  const std::string &pattern = clip == kOfxImageEffectSimpleSourceClipName ? options_.input : options_.mask;
  const Raster raster = scaleNearest(readImage(framePath(pattern, frame)), options_.renderScale);
  auto image = std::make_shared<HostImage>(bounds(raster.width, raster.height), options_.depth, components,
                                           options_.layout);
  rasterToHost(raster, *image);
  return image;
}

void FrameStore::put(const std::string &clip, int frame, std::shared_ptr<HostImage> image) {
  std::lock_guard<std::mutex> lock(mutex_);
  images_[{clip, frame}] = std::move(image);
}

void FrameStore::drop(int frame) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = images_.begin(); it != images_.end();) {
    it = it->first.second == frame ? images_.erase(it) : std::next(it);
  }
}

// Frames being rendered come from memory; other input frames (temporal access) are read on demand.
std::shared_ptr<HostImage> FrameStore::image(const std::string &clip, double time) {
  const int frame = static_cast<int>(std::lround(time));
  int components = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = images_.find({clip, frame});
    if (it != images_.end()) return it->second;
    auto c = components_.find(clip);
    if (c != components_.end()) components = c->second;
  }
  // OFX: a clip has no image outside its frame range; clipGetImage then fails.
  if (components == 0 || frame < options_.inputFirst || frame > options_.inputLast) return nullptr;
  try {
    return load(clip, frame, components);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "ofx-render: clip %s frame %d: %s\n", clip.c_str(), frame, e.what());
    return nullptr;
  }
}

OfxRectD FrameStore::regionOfDefinition(const std::string &clip, double time) {
  const bool output = clip == kOfxImageEffectOutputClipName;
  std::shared_ptr<HostImage> img = image(output ? kOfxImageEffectSimpleSourceClipName : clip, time);
  if (!img) return OfxRectD{0, 0, 0, 0};
  const OfxRectI &b = img->bounds();
  const double s = options_.renderScale;  // canonical = pixel / scale (pixel aspect ratio 1)
  return OfxRectD{b.x1 / s, b.y1 / s, b.x2 / s, b.y2 / s};
}

// ---- Session: sequence and frame rendering ----

void Session::fillSequenceArgs(PropertySet &args, bool sequential) const {
  args.defineDoubles(kOfxImageEffectPropFrameRange, {double(options_.firstFrame), double(options_.lastFrame)});
  args.defineDoubles(kOfxImageEffectPropFrameStep, {1.0});
  args.defineInts(kOfxPropIsInteractive, {0});
  args.defineDoubles(kOfxImageEffectPropRenderScale, {options_.renderScale, options_.renderScale});
  args.defineInts(kOfxImageEffectPropSequentialRenderStatus, {sequential ? 1 : 0});
  args.defineInts(kOfxImageEffectPropInteractiveRenderStatus, {0});
  args.defineInts(kOfxImageEffectPropRenderQualityDraft, {0});
}

OfxStatus Session::beginSequence(Effect *instance, bool sequential) {
  PropertySet in("begin-sequence-render inArgs");
  fillSequenceArgs(in, sequential);
  return call(kOfxImageEffectActionBeginSequenceRender, instance, &in, nullptr);
}

OfxStatus Session::endSequence(Effect *instance, bool sequential) {
  PropertySet in("end-sequence-render inArgs");
  fillSequenceArgs(in, sequential);
  return call(kOfxImageEffectActionEndSequenceRender, instance, &in, nullptr);
}

// inArgs shared by the region-of-interest (`roi`: canonical region), identity and render actions.
void Session::fillRenderArgs(PropertySet &args, int frame, const OfxRectI &window, bool roi) const {
  const double s = options_.renderScale;
  args.defineDoubles(kOfxPropTime, {double(frame)});
  args.defineDoubles(kOfxImageEffectPropRenderScale, {s, s});
  if (roi) {
    args.defineDoubles(kOfxImageEffectPropRegionOfInterest, {window.x1 / s, window.y1 / s, window.x2 / s, window.y2 / s});
    return;
  }
  args.defineStrings(kOfxImageEffectPropFieldToRender, {kOfxImageFieldNone});
  args.defineInts(kOfxImageEffectPropRenderWindow, {window.x1, window.y1, window.x2, window.y2});
  args.defineInts(kOfxImageEffectPropSequentialRenderStatus, {options_.threads == 1 ? 1 : 0});
  args.defineInts(kOfxImageEffectPropInteractiveRenderStatus, {0});
  args.defineInts(kOfxImageEffectPropRenderQualityDraft, {0});
}

bool Session::writeOutput(const HostImage &output, int group, int frame, std::string &why) const {
  const std::string path = framePath(options_.outputFor(group), frame);
  try {
    Raster raster = hostToRaster(output);
    if (isPngPath(path) && raster.depth == Depth::Float) raster = convertDepth(raster, Depth::Short);
    if (!options_.discardOutput) writeImage(path, raster);
    return true;
  } catch (const std::exception &e) {
    why = e.what();
    return false;
  }
}

// The plug-in said "use clip X at time T": the host copies it, converted to the output's format.
bool Session::identityCopy(Effect *instance, PropertySet &out, int frame, HostImage &output) {
  const std::string clip = out.getString(kOfxPropName);
  FrameStore &frames = *groups_.at(instance->group).frames;
  std::shared_ptr<HostImage> source = frames.image(clip, out.getDouble(kOfxPropTime, 0, frame));
  if (!source) return false;
  rasterToHost(hostToRaster(*source), output);
  return true;
}

namespace {
bool accepted(OfxStatus st) { return st == kOfxStatOK || st == kOfxStatReplyDefault; }

// Installs a fetch allowance on this thread for the duration of a render call.
class AllowanceScope {
 public:
  explicit AllowanceScope(const FetchAllowance &allowance) { setFetchAllowance(&allowance); }
  ~AllowanceScope() { setFetchAllowance(nullptr); }
  AllowanceScope(const AllowanceScope &) = delete;
  AllowanceScope &operator=(const AllowanceScope &) = delete;
};

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

// The frames a render of `frame` may fetch. An effect that declares kOfxImageEffectPropTemporalClipAccess is asked
// (kOfxImageEffectActionGetFramesNeeded, every input clip's range initialised to the frame itself, as OFX says);
// any other effect may fetch the frame rendered only.
OfxStatus Session::framesNeeded(Effect *instance, int frame, FetchAllowance &allowance) {
  allowance.time = frame;
  allowance.ranges.clear();
  if (instance->props.getInt(kOfxImageEffectPropTemporalClipAccess, 0, 0) == 0) return kOfxStatOK;
  PropertySet in("frames-needed inArgs"), out("frames-needed outArgs");
  in.defineDoubles(kOfxPropTime, {double(frame)});
  for (auto &clip : instance->clips) {
    if (clip->name != kOfxImageEffectOutputClipName) {
      out.defineDoubles("OfxImageClipPropFrameRange_" + clip->name, {double(frame), double(frame)});
    }
  }
  const OfxStatus st = call(kOfxImageEffectActionGetFramesNeeded, instance, &in, &out);
  if (!accepted(st)) return st;
  for (auto &clip : instance->clips) {
    const std::string name = "OfxImageClipPropFrameRange_" + clip->name;
    int count = 0;
    if (clip->name == kOfxImageEffectOutputClipName || out.dimension(name.c_str(), &count) != kOfxStatOK) continue;
    for (int i = 0; i + 1 < count; i += 2) {
      allowance.ranges[clip->name].emplace_back(out.getDouble(name, i), out.getDouble(name, i + 1));
    }
  }
  return kOfxStatOK;
}

bool Session::renderFrame(Effect *instance, int frame, double &renderMs, std::string &why) {
  renderMs = 0.0;
  setCurrentTime(frame);
  const Group &group = groups_.at(instance->group);
  FrameStore &frames = *group.frames;
  std::shared_ptr<HostImage> source, mask;
  try {
    source = frames.load(kOfxImageEffectSimpleSourceClipName, frame, options_.components);
    frames.put(kOfxImageEffectSimpleSourceClipName, frame, source);
    if (!options_.mask.empty()) {
      mask = frames.load(options_.maskClip, frame, group.maskComponents);
      frames.put(options_.maskClip, frame, mask);
    }
  } catch (const std::exception &e) {
    frames.drop(frame);
    why = e.what();
    return false;
  }
  const OfxRectI window = source->bounds();
  auto output = std::make_shared<HostImage>(window, options_.depth, group.outputComponents, options_.layout);
  frames.put(kOfxImageEffectOutputClipName, frame, output);
  const auto start = std::chrono::steady_clock::now();
  const OfxStatus st = runFrameActions(instance, frame, window, *output, why);
  renderMs = msSince(start);
  frames.drop(frame);
  if (st != kOfxStatOK) return false;
  return writeOutput(*output, instance->group, frame, why);
}

// Region of definition, regions of interest, identity, then render (unless identity answered).
OfxStatus Session::runFrameActions(Effect *instance, int frame, const OfxRectI &window, HostImage &output,
                                   std::string &why) {
  const double s = options_.renderScale;
  PropertySet rodIn("region-of-definition inArgs"), rodOut("region-of-definition outArgs");
  rodIn.defineDoubles(kOfxPropTime, {double(frame)});
  rodIn.defineDoubles(kOfxImageEffectPropRenderScale, {s, s});
  rodOut.defineDoubles(kOfxImageEffectPropRegionOfDefinition,
                       {window.x1 / s, window.y1 / s, window.x2 / s, window.y2 / s});
  OfxStatus st = call(kOfxImageEffectActionGetRegionOfDefinition, instance, &rodIn, &rodOut);
  PropertySet roiIn("regions-of-interest inArgs"), roiOut("regions-of-interest outArgs");
  fillRenderArgs(roiIn, frame, window, true);
  for (auto &clip : instance->clips) {
    if (clip->name == kOfxImageEffectOutputClipName) continue;
    roiOut.defineDoubles("OfxImageClipPropRoI_" + clip->name, {window.x1 / s, window.y1 / s, window.x2 / s, window.y2 / s});
  }
  if (accepted(st)) st = call(kOfxImageEffectActionGetRegionsOfInterest, instance, &roiIn, &roiOut);
  PropertySet idIn("is-identity inArgs"), idOut("is-identity outArgs");
  fillRenderArgs(idIn, frame, window, false);
  idOut.defineStrings(kOfxPropName, {""});
  idOut.defineDoubles(kOfxPropTime, {double(frame)});
  if (accepted(st)) st = call(kOfxImageEffectActionIsIdentity, instance, &idIn, &idOut);
  if (st == kOfxStatOK && !idOut.getString(kOfxPropName).empty()) {
    if (identityCopy(instance, idOut, frame, output)) return kOfxStatOK;
    why = "identity names clip \"" + idOut.getString(kOfxPropName) + "\", which has no image at that time";
    return kOfxStatFailed;
  }
  FetchAllowance allowance;
  if (accepted(st)) {
    st = framesNeeded(instance, frame, allowance);
    if (!accepted(st)) {
      why = std::string("the plug-in's frames-needed action returned ") + statusName(st);
      return st;
    }
  }
  if (accepted(st)) {
    PropertySet in("render inArgs");
    fillRenderArgs(in, frame, window, false);
    // An OpenFX 1.5 host says which memory the images are; this one never passes Metal, OpenCL or OpenGL.
    in.defineInts(kOfxImageEffectPropCudaEnabled, {cudaEnabled_ ? 1 : 0});
    for (const char *flag : {kOfxImageEffectPropMetalEnabled, kOfxImageEffectPropOpenCLEnabled,
                             kOfxImageEffectPropOpenGLEnabled}) {
      in.defineInts(flag, {0});
    }
    AllowanceScope scope(allowance);
    st = call(kOfxImageEffectActionRender, instance, &in, nullptr);
  }
  if (st != kOfxStatOK) {  // render must be trapped: kOfxStatReplyDefault is a failure here
    const std::string message = instance->takePersistentMessage(false);
    why = std::string("the plug-in returned ") + statusName(st) + (message.empty() ? "" : ": " + message);
    return st;
  }
  return kOfxStatOK;
}

}  // namespace ofxrender
