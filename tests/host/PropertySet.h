// A typed OFX property store: what an OfxPropertySetHandle points at inside ofx-render.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ofxCore.h"
#include "ofxProperty.h"

namespace ofxrender {

enum class PropType { Int, Double, String, Pointer };

struct Property {
  PropType type = PropType::Int;
  std::vector<int> ints;
  std::vector<double> doubles;
  std::vector<std::string> strings;
  std::vector<void *> pointers;
  std::vector<int> initialInts;
  std::vector<double> initialDoubles;
  std::vector<std::string> initialStrings;
  std::vector<void *> initialPointers;
  int dimension() const;
};

// One property set. `what` names it in messages ("effect descriptor", "clip Source", "render inArgs"...).
class PropertySet {
 public:
  explicit PropertySet(std::string what) : what_(std::move(what)) {}
  PropertySet(const PropertySet &other);
  PropertySet &operator=(const PropertySet &) = delete;
  // Replaces every property with `other`'s (keeps this set's name).
  void copyFrom(const PropertySet &other);

  // Host-side definition (sets the default too). These replace any existing property.
  void defineInts(const std::string &name, std::vector<int> values);
  void defineDoubles(const std::string &name, std::vector<double> values);
  void defineStrings(const std::string &name, std::vector<std::string> values);
  void definePointers(const std::string &name, std::vector<void *> values);

  // Host-side reads with a fallback when absent.
  int getInt(const std::string &name, int index = 0, int fallback = 0) const;
  double getDouble(const std::string &name, int index = 0, double fallback = 0.0) const;
  std::string getString(const std::string &name, int index = 0, const std::string &fallback = "") const;
  void *getPointer(const std::string &name, int index = 0) const;
  std::vector<std::string> getStrings(const std::string &name) const;
  bool has(const std::string &name) const;

  const std::string &what() const { return what_; }
  OfxPropertySetHandle handle() { return reinterpret_cast<OfxPropertySetHandle>(this); }
  static PropertySet *from(OfxPropertySetHandle h);

  // Suite back end (the C functions in PropertySet.cpp forward here).
  OfxStatus set(const char *name, PropType type, int index, const void *value);
  OfxStatus get(const char *name, PropType type, int index, void *value);
  OfxStatus reset(const char *name);
  OfxStatus dimension(const char *name, int *count);

 private:
  static constexpr unsigned kMagic = 0x0f5e7ab1u;
  unsigned magic_ = kMagic;
  std::string what_;
  mutable std::mutex mutex_;
  std::map<std::string, Property> props_;
};

// The property suite handed to plug-ins.
const OfxPropertySuiteV1 *propertySuite();

// Records that the plug-in asked for something this host does not provide (printed at once, counted for the exit
// status). Thread-safe.
void reportHostGap(const std::string &what);
std::vector<std::string> hostGaps();
void setAllowMissing(bool allow);

}  // namespace ofxrender
