// Effects, clips and parameters inside ofx-render, and the standard properties they start with.
#include "Effect.h"

#include <cfloat>
#include <climits>

#include "ofxGPURender.h"

namespace ofxrender {

namespace {
const std::vector<std::string> kDimensionLabels = {"x", "y", "z"};
const std::vector<std::string> kColourLabels = {"r", "g", "b", "a"};
}  // namespace

Param::Param(std::string n, std::string t, const std::string &owner)
    : name(std::move(n)), type(std::move(t)), props("parameter " + name + " of " + owner) {
  describeParamDefaults(props, name, type);
  values.assign(dimension(), 0.0);
}

Param::Param(const Param &descriptor, const std::string &owner)
    : name(descriptor.name), type(descriptor.type), props(descriptor.props) {
  (void)owner;
  props.defineStrings(kOfxPropType, {kOfxTypeParameterInstance});
  values.assign(dimension(), 0.0);
  resetToDefault();
}

int Param::dimension() const {
  if (type == kOfxParamTypeInteger || type == kOfxParamTypeDouble || type == kOfxParamTypeBoolean ||
      type == kOfxParamTypeChoice || type == kOfxParamTypeString || type == kOfxParamTypeCustom) {
    return 1;
  }
  if (type == kOfxParamTypeDouble2D || type == kOfxParamTypeInteger2D) return 2;
  if (type == kOfxParamTypeDouble3D || type == kOfxParamTypeInteger3D || type == kOfxParamTypeRGB) return 3;
  if (type == kOfxParamTypeRGBA) return 4;
  return 0;
}

bool Param::isIntegral() const {
  return type == kOfxParamTypeInteger || type == kOfxParamTypeInteger2D || type == kOfxParamTypeInteger3D ||
         type == kOfxParamTypeBoolean || type == kOfxParamTypeChoice;
}

bool Param::isText() const { return type == kOfxParamTypeString || type == kOfxParamTypeCustom; }

void Param::resetToDefault() {
  if (isText()) {
    std::lock_guard<std::mutex> lock(textMutex);
    text = props.getString(kOfxParamPropDefault);
    return;
  }
  for (int i = 0; i < dimension(); ++i) values[i] = props.getDouble(kOfxParamPropDefault, i, 0.0);
}

Param *ParamSet::find(const std::string &name) {
  for (auto &p : params_) {
    if (p->name == name) return p.get();
  }
  return nullptr;
}

Param *ParamSet::add(std::unique_ptr<Param> param) {
  params_.push_back(std::move(param));
  return params_.back().get();
}

ParamSet *ParamSet::from(OfxParamSetHandle h) {
  auto *set = reinterpret_cast<ParamSet *>(h);
  return (set != nullptr && set->magic_ == kMagic) ? set : nullptr;
}

Clip::Clip(std::string n, Effect *owner, const std::string &ownerName)
    : name(std::move(n)), props("clip " + name + " of " + ownerName), effect(owner) {
  describeClipDefaults(props, name);
}

Clip *Clip::from(OfxImageClipHandle h) {
  auto *clip = reinterpret_cast<Clip *>(h);
  return (clip != nullptr && clip->magic == kMagic) ? clip : nullptr;
}

Clip *Effect::findClip(const std::string &name) {
  for (auto &c : clips) {
    if (c->name == name) return c.get();
  }
  return nullptr;
}

Effect *Effect::from(const void *h) {
  auto *effect = static_cast<Effect *>(const_cast<void *>(h));
  return (effect != nullptr && effect->magic == kMagic) ? effect : nullptr;
}

std::string Effect::takePersistentMessage(bool clear) {
  std::lock_guard<std::mutex> lock(messageMutex);
  std::string out = persistentType.empty() ? "" : persistentType + ": " + persistentMessage;
  if (clear) persistentType.clear();
  return out;
}

void describeEffectDefaults(PropertySet &p, const std::string &bundlePath) {
  p.defineStrings(kOfxPropType, {kOfxTypeImageEffect});
  p.defineStrings(kOfxPropLabel, {""});
  p.defineStrings(kOfxPropShortLabel, {""});
  p.defineStrings(kOfxPropLongLabel, {""});
  p.defineStrings(kOfxPropPluginDescription, {""});
  p.defineInts(kOfxPropVersion, {0});
  p.defineStrings(kOfxPropVersionLabel, {""});
  p.defineStrings(kOfxPropIcon, {"", ""});
  p.defineStrings(kOfxPluginPropFilePath, {bundlePath});
  p.defineStrings(kOfxImageEffectPluginPropGrouping, {""});
  p.defineStrings(kOfxImageEffectPropSupportedContexts, {});
  p.defineStrings(kOfxImageEffectPropSupportedPixelDepths, {});
  p.defineInts(kOfxImageEffectPluginPropSingleInstance, {0});
  p.defineStrings(kOfxImageEffectPluginRenderThreadSafety, {kOfxImageEffectRenderInstanceSafe});
  p.defineInts(kOfxImageEffectPluginPropHostFrameThreading, {1});
  p.defineInts(kOfxImageEffectPropSupportsMultiResolution, {1});
  p.defineInts(kOfxImageEffectPropSupportsTiles, {1});
  p.defineInts(kOfxImageEffectPropTemporalClipAccess, {0});
  p.defineInts(kOfxImageEffectPropSupportsMultipleClipDepths, {0});
  p.defineInts(kOfxImageEffectPropSupportsMultipleClipPARs, {0});
  p.defineInts(kOfxImageEffectPluginPropFieldRenderTwiceAlways, {1});
  p.defineStrings(kOfxImageEffectPropClipPreferencesSlaveParam, {});
  p.defineInts(kOfxImageEffectInstancePropSequentialRender, {0});
  p.definePointers(kOfxImageEffectPluginPropOverlayInteractV1, {nullptr});
  p.defineStrings(kOfxPluginPropParamPageOrder, {});
  p.defineInts(kOfxImageEffectPropRenderQualityDraft, {0});
  p.defineStrings(kOfxImageEffectPropCudaRenderSupported, {"false"});  // OpenFX 1.5 defaults
  p.defineStrings(kOfxImageEffectPropCudaStreamSupported, {"false"});
}

void describeClipDefaults(PropertySet &p, const std::string &name) {
  p.defineStrings(kOfxPropType, {kOfxTypeClip});
  p.defineStrings(kOfxPropName, {name});
  p.defineStrings(kOfxPropLabel, {name});
  p.defineStrings(kOfxPropShortLabel, {name});
  p.defineStrings(kOfxPropLongLabel, {name});
  p.defineStrings(kOfxImageEffectPropSupportedComponents, {});
  p.defineInts(kOfxImageEffectPropTemporalClipAccess, {0});
  p.defineInts(kOfxImageClipPropOptional, {0});
  p.defineStrings(kOfxImageClipPropFieldExtraction, {kOfxImageFieldDoubled});
  p.defineInts(kOfxImageClipPropIsMask, {0});
  p.defineInts(kOfxImageEffectPropSupportsTiles, {1});
}

namespace {

void describeNumericDefaults(PropertySet &p, const std::string &type, int dims) {
  const bool integral = type == kOfxParamTypeInteger || type == kOfxParamTypeInteger2D ||
                        type == kOfxParamTypeInteger3D;
  if (integral) {
    p.defineInts(kOfxParamPropDefault, std::vector<int>(dims, 0));
    for (const char *k : {kOfxParamPropMin, kOfxParamPropDisplayMin}) p.defineInts(k, std::vector<int>(dims, INT_MIN));
    for (const char *k : {kOfxParamPropMax, kOfxParamPropDisplayMax}) p.defineInts(k, std::vector<int>(dims, INT_MAX));
  } else {
    p.defineDoubles(kOfxParamPropDefault, std::vector<double>(dims, 0.0));
    for (const char *k : {kOfxParamPropMin, kOfxParamPropDisplayMin}) {
      p.defineDoubles(k, std::vector<double>(dims, -DBL_MAX));
    }
    for (const char *k : {kOfxParamPropMax, kOfxParamPropDisplayMax}) {
      p.defineDoubles(k, std::vector<double>(dims, DBL_MAX));
    }
    p.defineDoubles(kOfxParamPropIncrement, {1.0});
    p.defineInts(kOfxParamPropDigits, {2});
    p.defineStrings(kOfxParamPropDoubleType, {kOfxParamDoubleTypePlain});
    p.defineStrings(kOfxParamPropDefaultCoordinateSystem, {kOfxParamCoordinatesCanonical});
    p.defineInts(kOfxParamPropShowTimeMarker, {0});
  }
  const bool colour = type == kOfxParamTypeRGB || type == kOfxParamTypeRGBA;
  const std::vector<std::string> &labels = colour ? kColourLabels : kDimensionLabels;
  if (dims > 1) p.defineStrings(kOfxParamPropDimensionLabel, {labels.begin(), labels.begin() + dims});
}

}  // namespace

void describeParamDefaults(PropertySet &p, const std::string &name, const std::string &type) {
  p.defineStrings(kOfxPropType, {kOfxTypeParameter});
  p.defineStrings(kOfxPropName, {name});
  p.defineStrings(kOfxPropLabel, {name});
  p.defineStrings(kOfxPropShortLabel, {name});
  p.defineStrings(kOfxPropLongLabel, {name});
  p.defineStrings(kOfxPropIcon, {"", ""});
  p.defineStrings(kOfxParamPropType, {type});
  p.defineStrings(kOfxParamPropHint, {""});
  p.defineStrings(kOfxParamPropScriptName, {name});
  p.defineStrings(kOfxParamPropParent, {""});
  p.defineInts(kOfxParamPropSecret, {0});
  p.defineInts(kOfxParamPropEnabled, {1});
  p.definePointers(kOfxParamPropDataPtr, {nullptr});
  p.defineInts(kOfxParamPropEvaluateOnChange, {1});
  p.defineInts(kOfxParamPropPersistant, {1});
  p.defineInts(kOfxParamPropAnimates, {1});
  p.defineInts(kOfxParamPropCanUndo, {1});
  p.defineInts(kOfxParamPropIsAnimating, {0});
  p.defineInts(kOfxParamPropIsAutoKeying, {0});
  p.defineInts(kOfxParamPropPluginMayWrite, {0});
  p.defineStrings(kOfxParamPropCacheInvalidation, {kOfxParamInvalidateValueChange});
  p.definePointers(kOfxParamPropInteractV1, {nullptr});
  p.defineInts(kOfxParamPropHasHostOverlayHandle, {0});
  p.defineInts(kOfxParamPropUseHostOverlayHandle, {0});
  if (type == kOfxParamTypeBoolean || type == kOfxParamTypeChoice) {
    p.defineInts(kOfxParamPropDefault, {0});
    if (type == kOfxParamTypeChoice) p.defineStrings(kOfxParamPropChoiceOption, {});
  } else if (type == kOfxParamTypeString || type == kOfxParamTypeCustom) {
    p.defineStrings(kOfxParamPropDefault, {""});
    p.defineStrings(kOfxParamPropStringMode, {kOfxParamStringIsSingleLine});
    p.defineInts(kOfxParamPropStringFilePathExists, {1});
    p.definePointers(kOfxParamPropCustomInterpCallbackV1, {nullptr});
  } else if (type == kOfxParamTypeGroup) {
    p.defineInts(kOfxParamPropGroupOpen, {1});
  } else if (type == kOfxParamTypePage) {
    p.defineStrings(kOfxParamPropPageChild, {});
  } else if (type != kOfxParamTypePushButton) {
    const int dims = (type == kOfxParamTypeDouble || type == kOfxParamTypeInteger) ? 1
                     : (type == kOfxParamTypeDouble2D || type == kOfxParamTypeInteger2D) ? 2
                     : type == kOfxParamTypeRGBA ? 4 : 3;
    describeNumericDefaults(p, type, dims);
  }
}

}  // namespace ofxrender
