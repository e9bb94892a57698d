// One plug-in driven through the OFX life cycle by ofx-render: load, describe, describe in context, instances,
// parameters from the command line, clip preferences, sequence rendering, destruction and unload.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "Bundle.h"
#include "Effect.h"
#include "Options.h"
#include "ofxGPURender.h"

namespace ofxrender {

// Images of the frames being rendered, shared by all instances; inputs at other times load on demand.
class FrameStore : public FrameSource {
 public:
  explicit FrameStore(const Options &options) : options_(options) {}
  std::shared_ptr<HostImage> image(const std::string &clip, double time) override;
  OfxRectD regionOfDefinition(const std::string &clip, double time) override;
  double renderScale() const override { return options_.renderScale; }
  bool aborted() const override { return false; }

  void put(const std::string &clip, int frame, std::shared_ptr<HostImage> image);
  void drop(int frame);
  // Reads an input clip's frame file into host memory (depth, components and layout from the options).
  std::shared_ptr<HostImage> load(const std::string &clip, int frame, int components) const;
  OfxRectI bounds(int width, int height) const;  // pixel bounds of a frame of that (scaled) size
  void setInputComponents(const std::string &clip, int components);

 private:
  const Options &options_;
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::shared_ptr<HostImage>> images_;
  std::map<std::string, int> components_;
};

// Sets a parameter from command-line text, typed by the parameter's declared type.
bool setParamFromText(Param &param, const std::string &text, std::string &error);
// Every valued parameter of an instance as a JSON object: numbers, booleans, choices by option label, strings.
std::string paramValuesJson(Effect &instance);
// `text` as a JSON string literal.
std::string jsonString(const std::string &text);

class Session {
 public:
  Session(const LoadedPlugin &plugin, const Options &options);
  ~Session();
  // Load and describe; false (with a message printed) when the plug-in refuses. A plug-in that declares
  // kOfxImageEffectPropSupportsMultiResolution=0 is rendered at scale 1 whatever --render-scale says (as real
  // hosts do), with a note.
  bool describe();
  double renderScale() const { return options_.renderScale; }
  std::string label() const;
  std::vector<std::string> contexts() const;
  std::string threadSafety() const;
  // Creates an instance for --instances number `group` (0 when there is one) with its command-line parameters
  // applied (--param, then that group's --instance-param); nullptr on failure (message printed).
  Effect *createInstance(int group = 0);
  void destroyInstances();
  // Clip preferences of the first instance of a group: output and mask components the plug-in asks for.
  void clipPreferences(Effect *instance);
  // Renders one frame on an instance; returns false when the frame failed (message in `why`).
  bool renderFrame(Effect *instance, int frame, double &renderMs, std::string &why);
  OfxStatus beginSequence(Effect *instance, bool sequential);
  OfxStatus endSequence(Effect *instance, bool sequential);
  FrameStore &frames(int group = 0) { return *groups_.at(group).frames; }
  const LoadedPlugin &plugin() const { return plugin_; }

 private:
  bool applyParam(Effect *instance, const std::string &name, const std::string &value);
  void describeInstanceClips(Effect *e);
  OfxStatus call(const char *action, Effect *effect, PropertySet *in, PropertySet *out);
  void fillSequenceArgs(PropertySet &args, bool sequential) const;
  void fillRenderArgs(PropertySet &args, int frame, const OfxRectI &window, bool roi) const;
  bool writeOutput(const HostImage &output, int group, int frame, std::string &why) const;
  OfxStatus runFrameActions(Effect *instance, int frame, const OfxRectI &window, HostImage &output, std::string &why);
  bool identityCopy(Effect *instance, PropertySet &out, int frame, HostImage &output);
  OfxStatus framesNeeded(Effect *instance, int frame, FetchAllowance &allowance);

  // What the instances of one of --instances share: the images of the frames they render (kept apart from other
  // groups', which may render the same frame at the same moment) and the components their clip preferences chose.
  struct Group {
    std::unique_ptr<FrameStore> frames;
    int outputComponents = 4;
    int maskComponents = 1;
  };

  const LoadedPlugin &plugin_;
  Options options_;  // a copy: the render scale follows what the plug-in supports
  std::vector<Group> groups_;
  bool loaded_ = false;
  // kOfxImageEffectPropCudaEnabled in render's inArgs (always defined, as by an OpenFX 1.5 host): 1 only as
  // agreeCudaRender() decides, after describe.
  bool cudaEnabled_ = false;
  void agreeCudaRender();
  std::unique_ptr<Effect> descriptor_;
  std::unique_ptr<Effect> contextDescriptor_;
  std::vector<std::unique_ptr<Effect>> instances_;
};

}  // namespace ofxrender
