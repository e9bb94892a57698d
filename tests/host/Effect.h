// The objects behind ofx-render's OFX handles: effects (descriptors and instances), their clips and parameters,
// and the images handed out by clipGetImage.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "Pixels.h"
#include "PropertySet.h"
#include "ofxImageEffect.h"
#include "ofxParam.h"

namespace ofxrender {

struct Effect;

struct Param {
  static constexpr unsigned kMagic = 0x9a7a3e11u;
  unsigned magic = kMagic;
  std::string name;
  std::string type;  // kOfxParamType*
  PropertySet props;
  std::vector<double> values;  // one per dimension for numeric, boolean and choice types
  std::string text;            // string and custom types
  std::mutex textMutex;
  Param(std::string n, std::string t, const std::string &owner);
  Param(const Param &descriptor, const std::string &owner);  // instance from a descriptor
  int dimension() const;        // values a get/set call passes; 0 for Group, Page, PushButton
  bool isIntegral() const;      // Integer*, Boolean, Choice
  bool isText() const;          // String, Custom
  void resetToDefault();
};

class ParamSet {
 public:
  static constexpr unsigned kMagic = 0x9a7a5e75u;
  explicit ParamSet(PropertySet *effectProps) : effectProps_(effectProps) {}
  Param *find(const std::string &name);
  Param *add(std::unique_ptr<Param> param);
  const std::vector<std::unique_ptr<Param>> &all() const { return params_; }
  PropertySet *effectProps() { return effectProps_; }
  OfxParamSetHandle handle() { return reinterpret_cast<OfxParamSetHandle>(this); }
  static ParamSet *from(OfxParamSetHandle h);

 private:
  unsigned magic_ = kMagic;
  PropertySet *effectProps_;
  std::vector<std::unique_ptr<Param>> params_;
};

struct Clip {
  static constexpr unsigned kMagic = 0xc11bc11bu;
  unsigned magic = kMagic;
  std::string name;
  PropertySet props;
  Effect *effect;
  Clip(std::string n, Effect *owner, const std::string &ownerName);
  OfxImageClipHandle handle() { return reinterpret_cast<OfxImageClipHandle>(this); }
  static Clip *from(OfxImageClipHandle h);
};

// Supplies the images of an instance's clips at a time (the renderer implements it).
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // nullptr when the clip has no image at that time.
  virtual std::shared_ptr<HostImage> image(const std::string &clip, double time) = 0;
  virtual OfxRectD regionOfDefinition(const std::string &clip, double time) = 0;
  virtual double renderScale() const = 0;
  virtual bool aborted() const = 0;
};

struct Effect {
  enum class Kind { Descriptor, ContextDescriptor, Instance };
  static constexpr unsigned kMagic = 0xeffec7edu;
  unsigned magic = kMagic;
  Kind kind;
  PropertySet props;
  ParamSet params{&props};
  std::vector<std::unique_ptr<Clip>> clips;
  FrameSource *frames = nullptr;  // instances only
  int group = 0;  // instances only: which of ofx-render's --instances this one renders for (its params and frames)
  std::mutex messageMutex;
  std::string persistentType;  // empty when no persistent message is set
  std::string persistentMessage;

  Effect(Kind k, const std::string &what) : kind(k), props(what) {}
  Clip *findClip(const std::string &name);
  OfxImageEffectHandle handle() { return reinterpret_cast<OfxImageEffectHandle>(this); }
  static Effect *from(const void *h);
  // The persistent message, "" when none ("TYPE: text" otherwise).
  std::string takePersistentMessage(bool clear);
};

// An image handed to the plug-in: its property set is what the plug-in holds as the image handle.
struct ImageRef {
  PropertySet props;
  std::shared_ptr<HostImage> pixels;
  explicit ImageRef(const std::string &what) : props(what) {}
};

// The frames a render may fetch (OFX: the frame rendered, plus what kOfxImageEffectActionGetFramesNeeded asked for
// when the effect declares temporal clip access), per input clip as inclusive [first, last] ranges.
struct FetchAllowance {
  double time = 0.0;  // the frame being rendered
  std::map<std::string, std::vector<std::pair<double, double>>> ranges;
  bool permits(const std::string &clip, double at) const;
  std::string describe(const std::string &clip) const;  // "[4, 6]" for messages
};

// Installs `allowance` for clipGetImage calls made on this thread (nullptr: no render in progress, nothing checked).
void setFetchAllowance(const FetchAllowance *allowance);
// clipGetImage calls refused because the render asked for a frame it had not declared (all threads).
int refusedFetches();

const OfxImageEffectSuiteV1 *imageEffectSuite();
const OfxParameterSuiteV1 *parameterSuite();
// Images the plug-in fetched and has not released yet (checked after each action).
int outstandingImages();

// Standard properties, filled by the host before the plug-in sees a handle.
void describeEffectDefaults(PropertySet &props, const std::string &bundlePath);
void describeClipDefaults(PropertySet &props, const std::string &name);
void describeParamDefaults(PropertySet &props, const std::string &name, const std::string &type);

}  // namespace ofxrender
