// The OFX life cycle of one plug-in in ofx-render: describe, instances, parameters, clip preferences.
#include "Session.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "HostSuites.h"
#include "ImageIO.h"

namespace ofxrender {

namespace {

const char *contextName(const std::string &context) {
  return context == "general" ? kOfxImageEffectContextGeneral : kOfxImageEffectContextFilter;
}

bool accepted(OfxStatus st) { return st == kOfxStatOK || st == kOfxStatReplyDefault; }

int componentsFromName(const std::string &name) {
  if (name == kOfxImageComponentRGBA) return 4;
  if (name == kOfxImageComponentRGB) return 3;
  if (name == kOfxImageComponentAlpha) return 1;
  return 0;
}

}  // namespace

std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

namespace {

std::string jsonNumber(double value, bool integral) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, integral ? "%.0f" : "%.17g", value);
  return text;
}

std::string paramValueJson(Param &p) {
  if (p.isText()) {
    std::lock_guard<std::mutex> lock(p.textMutex);
    return jsonString(p.text);
  }
  if (p.type == kOfxParamTypeBoolean) return p.values[0] != 0.0 ? "true" : "false";
  if (p.type == kOfxParamTypeChoice) {
    const std::vector<std::string> options = p.props.getStrings(kOfxParamPropChoiceOption);
    const auto index = static_cast<std::size_t>(p.values[0]);
    return p.values[0] >= 0 && index < options.size() ? jsonString(options[index]) : jsonNumber(p.values[0], true);
  }
  std::string out;
  for (double v : p.values) out += (out.empty() ? "" : ", ") + jsonNumber(v, p.isIntegral());
  return p.dimension() == 1 ? out : "[" + out + "]";
}

}  // namespace

std::string paramValuesJson(Effect &instance) {
  std::string out;
  for (const auto &param : instance.params.all()) {
    if (!param->isText() && param->dimension() == 0) continue;  // groups, pages, push buttons hold no value
    out += (out.empty() ? "" : ", ") + jsonString(param->name) + ": " + paramValueJson(*param);
  }
  return "{" + out + "}";
}

Session::Session(const LoadedPlugin &plugin, const Options &options)
    : plugin_(plugin), options_(options) {
  for (int group = 0; group < options_.instances; ++group) {
    groups_.push_back(Group{std::make_unique<FrameStore>(options_), options_.components, 1});
  }
}

Session::~Session() {
  destroyInstances();
  if (loaded_) callAction(plugin_, kOfxActionUnload, nullptr, nullptr, nullptr);
}

OfxStatus Session::call(const char *action, Effect *effect, PropertySet *in, PropertySet *out) {
  return callAction(plugin_, action, effect != nullptr ? effect->handle() : nullptr, in, out);
}

bool Session::describe() {
  if (plugin_.plugin->setHost != nullptr) plugin_.plugin->setHost(ofxHost());
  OfxStatus st = call(kOfxActionLoad, nullptr, nullptr, nullptr);
  if (!accepted(st)) {
    std::fprintf(stderr, "ofx-render: %s: load action returned %s\n", plugin_.identifier().c_str(), statusName(st));
    return false;
  }
  loaded_ = true;
  descriptor_ = std::make_unique<Effect>(Effect::Kind::Descriptor, "effect descriptor " + plugin_.identifier());
  describeEffectDefaults(descriptor_->props, plugin_.bundlePath);
  st = call(kOfxActionDescribe, descriptor_.get(), nullptr, nullptr);
  if (!accepted(st)) {
    std::fprintf(stderr, "ofx-render: %s: describe returned %s\n", plugin_.identifier().c_str(), statusName(st));
    return false;
  }
  if (options_.renderScale != 1.0 && descriptor_->props.getInt(kOfxImageEffectPropSupportsMultiResolution, 0, 1) == 0) {
    if (!options_.list) {
      std::fprintf(stderr, "ofx-render: note: %s declares kOfxImageEffectPropSupportsMultiResolution=0: rendering at "
                   "scale 1, not %g\n", plugin_.identifier().c_str(), options_.renderScale);
    }
    options_.renderScale = 1.0;
  }
  agreeCudaRender();
  return true;
}

// OpenFX 1.5 (ofxGPURender.h): the host MAY pass CUDA memory (kOfxImageEffectPropCudaEnabled = 1) only when host
// and plug-in both declared kOfxImageEffectPropCudaRenderSupported "true" (or the plug-in "needed"), in describe.
void Session::agreeCudaRender() {
  if (!(options_.cudaRender || options_.forceCudaEnabled) || options_.list) return;
  const std::string said = descriptor_->props.getString(kOfxImageEffectPropCudaRenderSupported, 0, "false");
  const bool agreed = options_.cudaRender && (said == "true" || said == "needed");
  cudaEnabled_ = agreed || options_.forceCudaEnabled;
  const std::string identifier = plugin_.identifier();
  const char *id = identifier.c_str();
  if (agreed) {
    std::fprintf(stderr, "ofx-render: note: --cuda-render: %s declares kOfxImageEffectPropCudaRenderSupported=\"%s\": "
                 "kOfxImageEffectPropCudaEnabled=1 (no GPU here: the images are CPU memory)\n", id, said.c_str());
  } else if (options_.forceCudaEnabled) {
    std::fprintf(stderr, "ofx-render: note: --force-cuda-enabled: kOfxImageEffectPropCudaEnabled=1 although %s "
                 "declares kOfxImageEffectPropCudaRenderSupported=\"%s\" (against the standard, on purpose)\n", id,
                 said.c_str());
  } else {
    std::fprintf(stderr, "ofx-render: note: --cuda-render: %s declares kOfxImageEffectPropCudaRenderSupported=\"%s\": "
                 "kOfxImageEffectPropCudaEnabled=0, CPU memory\n", id, said.c_str());
  }
}

std::string Session::label() const { return descriptor_ ? descriptor_->props.getString(kOfxPropLabel) : ""; }

std::vector<std::string> Session::contexts() const {
  return descriptor_ ? descriptor_->props.getStrings(kOfxImageEffectPropSupportedContexts) : std::vector<std::string>{};
}

std::string Session::threadSafety() const {
  return descriptor_->props.getString(kOfxImageEffectPluginRenderThreadSafety, 0, kOfxImageEffectRenderInstanceSafe);
}

// Describes the context on first use, then builds an instance from that description.
Effect *Session::createInstance(int group) {
  const char *context = contextName(options_.context);
  if (!contextDescriptor_) {
    bool supported = false;
    for (const std::string &c : contexts()) supported = supported || c == context;
    if (!supported) {
      std::fprintf(stderr, "ofx-render: %s does not support the %s context\n", plugin_.identifier().c_str(), context);
      return nullptr;
    }
    contextDescriptor_ = std::make_unique<Effect>(Effect::Kind::ContextDescriptor, "effect descriptor in context");
    contextDescriptor_->props.copyFrom(descriptor_->props);
    PropertySet in("describe-in-context inArgs");
    in.defineStrings(kOfxImageEffectPropContext, {context});
    const OfxStatus st = call(kOfxImageEffectActionDescribeInContext, contextDescriptor_.get(), &in, nullptr);
    if (st != kOfxStatOK) {
      std::fprintf(stderr, "ofx-render: describe in context %s returned %s\n", context, statusName(st));
      return nullptr;
    }
    if (!options_.mask.empty() && contextDescriptor_->findClip(options_.maskClip) == nullptr) {
      std::fprintf(stderr, "ofx-render: --mask given but the plug-in defines no clip \"%s\" in the %s context\n",
                   options_.maskClip.c_str(), context);
      return nullptr;
    }
  }
  auto instance = std::make_unique<Effect>(Effect::Kind::Instance,
                                           "effect instance " + std::to_string(instances_.size()));
  Effect *e = instance.get();
  e->props.copyFrom(contextDescriptor_->props);
  PropertySet &p = e->props;
  p.defineStrings(kOfxPropType, {kOfxTypeImageEffectInstance});
  p.defineStrings(kOfxImageEffectPropContext, {context});
  p.definePointers(kOfxPropInstanceData, {nullptr});
  p.definePointers(kOfxImageEffectPropPluginHandle, {descriptor_.get()});
  p.defineInts(kOfxPropIsInteractive, {0});
  p.defineDoubles(kOfxImageEffectPropFrameRate, {24.0});
  p.defineDoubles(kOfxImageEffectPropProjectPixelAspectRatio, {1.0});
  p.defineDoubles(kOfxImageEffectInstancePropEffectDuration, {double(options_.lastFrame - options_.firstFrame + 1)});
  for (const auto &param : contextDescriptor_->params.all()) {
    e->params.add(std::make_unique<Param>(*param, p.what()));
  }
  for (const auto &clip : contextDescriptor_->clips) {
    e->clips.push_back(std::make_unique<Clip>(clip->name, e, p.what()));
    e->clips.back()->props.copyFrom(clip->props);
  }
  e->frames = groups_.at(group).frames.get();
  e->group = group;
  instances_.push_back(std::move(instance));
  describeInstanceClips(e);
  const OfxStatus st = call(kOfxActionCreateInstance, e, nullptr, nullptr);
  if (!accepted(st)) {
    const std::string message = e->takePersistentMessage(false);
    std::fprintf(stderr, "ofx-render: create instance returned %s%s%s\n", statusName(st), message.empty() ? "" : ": ",
                 message.c_str());
    instances_.pop_back();
    return nullptr;
  }
  for (const auto &[name, value] : options_.params) {
    if (!applyParam(e, name, value)) return nullptr;
  }
  for (const Options::InstanceParam &p : options_.instanceParams) {
    if (p.instance == group && !applyParam(e, p.name, p.value)) return nullptr;
  }
  return e;
}

// Clip instance properties: what is connected, at which depth and components, over which frames.
void Session::describeInstanceClips(Effect *e) {
  Group &group = groups_.at(e->group);
  const OfxRectD rod = group.frames->regionOfDefinition(kOfxImageEffectSimpleSourceClipName, options_.firstFrame);
  e->props.defineDoubles(kOfxImageEffectPropProjectSize, {rod.x2 - rod.x1, rod.y2 - rod.y1});
  e->props.defineDoubles(kOfxImageEffectPropProjectOffset, {rod.x1, rod.y1});
  e->props.defineDoubles(kOfxImageEffectPropProjectExtent, {rod.x2, rod.y2});
  for (auto &clip : e->clips) {
    PropertySet &p = clip->props;
    const bool isOutput = clip->name == kOfxImageEffectOutputClipName;
    const bool isSource = clip->name == kOfxImageEffectSimpleSourceClipName;
    const bool isMask = !options_.mask.empty() && clip->name == options_.maskClip;
    const std::vector<std::string> supported = p.getStrings(kOfxImageEffectPropSupportedComponents);
    if (isMask && !supported.empty() && componentsFromName(supported.front()) != 0 &&
        std::find(supported.begin(), supported.end(), kOfxImageComponentAlpha) == supported.end()) {
      group.maskComponents = componentsFromName(supported.front());
    }
    const int comps = isOutput ? group.outputComponents : isMask ? group.maskComponents : options_.components;
    const bool connected = isOutput || isSource || isMask;
    p.defineInts(kOfxImageClipPropConnected, {connected ? 1 : 0});
    const char *depth = connected ? ofxDepthName(options_.depth) : kOfxBitDepthNone;
    const char *components = connected ? ofxComponentsName(comps) : kOfxImageComponentNone;
    for (const char *k : {kOfxImageEffectPropPixelDepth, kOfxImageClipPropUnmappedPixelDepth}) p.defineStrings(k, {depth});
    for (const char *k : {kOfxImageEffectPropComponents, kOfxImageClipPropUnmappedComponents}) {
      p.defineStrings(k, {components});
    }
    p.defineStrings(kOfxImageEffectPropPreMultiplication,
                    {comps == 4 ? kOfxImagePreMultiplied : kOfxImageOpaque});
    p.defineDoubles(kOfxImagePropPixelAspectRatio, {1.0});
    for (const char *k : {kOfxImageEffectPropFrameRate, kOfxImageEffectPropUnmappedFrameRate}) p.defineDoubles(k, {24.0});
    // Inputs hold the frames of their sequences (--input-frames); the output those rendered.
    const int first = isOutput ? options_.firstFrame : options_.inputFirst;
    const int last = isOutput ? options_.lastFrame : options_.inputLast;
    for (const char *k : {kOfxImageEffectPropFrameRange, kOfxImageEffectPropUnmappedFrameRange}) {
      p.defineDoubles(k, {double(first), double(last)});
    }
    p.defineStrings(kOfxImageClipPropFieldOrder, {kOfxImageFieldNone});
    p.defineInts(kOfxImageClipPropContinuousSamples, {0});
    if (isMask || isSource) group.frames->setInputComponents(clip->name, comps);
  }
}

bool Session::applyParam(Effect *instance, const std::string &name, const std::string &value) {
  Param *param = instance->params.find(name);
  if (param == nullptr) {
    std::string known;
    for (const auto &p : instance->params.all()) known += " " + p->name;
    std::fprintf(stderr, "ofx-render: the plug-in has no parameter \"%s\"; it has:%s\n", name.c_str(), known.c_str());
    return false;
  }
  std::string error;
  if (!setParamFromText(*param, value, error)) {
    std::fprintf(stderr, "ofx-render: --param %s=%s: %s\n", name.c_str(), value.c_str(), error.c_str());
    return false;
  }
  PropertySet reason("instance-changed inArgs");
  reason.defineStrings(kOfxPropChangeReason, {kOfxChangeUserEdited});
  PropertySet in("instance-changed inArgs");
  in.copyFrom(reason);
  in.defineStrings(kOfxPropType, {kOfxTypeParameter});
  in.defineStrings(kOfxPropName, {name});
  in.defineDoubles(kOfxPropTime, {double(options_.firstFrame)});
  in.defineDoubles(kOfxImageEffectPropRenderScale, {options_.renderScale, options_.renderScale});
  call(kOfxActionBeginInstanceChanged, instance, &reason, nullptr);
  const OfxStatus st = call(kOfxActionInstanceChanged, instance, &in, nullptr);
  call(kOfxActionEndInstanceChanged, instance, &reason, nullptr);
  if (!accepted(st)) {
    const std::string message = instance->takePersistentMessage(false);
    std::fprintf(stderr, "ofx-render: instance changed (%s) returned %s%s%s\n", name.c_str(), statusName(st),
                 message.empty() ? "" : ": ", message.c_str());
  }
  return true;
}

void Session::destroyInstances() {
  while (!instances_.empty()) {
    call(kOfxActionDestroyInstance, instances_.back().get(), nullptr, nullptr);
    instances_.pop_back();
  }
}

// Asks the plug-in for its clip preferences and adopts the components it wants (the host converts).
void Session::clipPreferences(Effect *instance) {
  PropertySet out("clip preferences outArgs");
  for (auto &clip : instance->clips) {
    out.defineStrings("OfxImageClipPropComponents_" + clip->name, {clip->props.getString(kOfxImageEffectPropComponents)});
    out.defineStrings("OfxImageClipPropDepth_" + clip->name, {clip->props.getString(kOfxImageEffectPropPixelDepth)});
    out.defineDoubles("OfxImageClipPropPAR_" + clip->name, {1.0});
  }
  out.defineDoubles(kOfxImageEffectPropFrameRate, {24.0});
  out.defineStrings(kOfxImageClipPropFieldOrder, {kOfxImageFieldNone});
  out.defineStrings(kOfxImageEffectPropPreMultiplication,
                    {options_.components == 4 ? kOfxImagePreMultiplied : kOfxImageOpaque});
  out.defineInts(kOfxImageClipPropContinuousSamples, {0});
  out.defineInts(kOfxImageEffectFrameVarying, {0});
  if (call(kOfxImageEffectActionGetClipPreferences, instance, nullptr, &out) != kOfxStatOK) return;
  Group &group = groups_.at(instance->group);
  for (auto &clip : instance->clips) {
    const int comps = componentsFromName(out.getString("OfxImageClipPropComponents_" + clip->name));
    const std::string depth = out.getString("OfxImageClipPropDepth_" + clip->name);
    if (depth != clip->props.getString(kOfxImageEffectPropPixelDepth)) {
      std::fprintf(stderr, "ofx-render: note: clip %s: the plug-in asked for %s; this host renders one depth (%s)\n",
                   clip->name.c_str(), depth.c_str(), ofxDepthName(options_.depth));
    }
    if (comps == 0 || clip->props.getInt(kOfxImageClipPropConnected) == 0) continue;
    if (clip->name == kOfxImageEffectOutputClipName) group.outputComponents = comps;
    if (clip->name == options_.maskClip) group.maskComponents = comps;
    clip->props.defineStrings(kOfxImageEffectPropComponents, {ofxComponentsName(comps)});
    if (clip->name != kOfxImageEffectOutputClipName) group.frames->setInputComponents(clip->name, comps);
  }
}

}  // namespace ofxrender
