// The property store behind OfxPropertySetHandle and the OfxPropertySuiteV1 that reads and writes it.
#include "PropertySet.h"

#include <atomic>
#include <cstdio>

namespace ofxrender {

namespace {

std::mutex gGapMutex;
std::vector<std::string> gGaps;
std::atomic<bool> gAllowMissing{false};

const char *typeName(PropType t) {
  switch (t) {
    case PropType::Int: return "int";
    case PropType::Double: return "double";
    case PropType::String: return "string";
    case PropType::Pointer: return "pointer";
  }
  return "?";
}

}  // namespace

void reportHostGap(const std::string &what) {
  std::lock_guard<std::mutex> lock(gGapMutex);
  for (const std::string &g : gGaps) {
    if (g == what) return;  // say it once
  }
  gGaps.push_back(what);
  std::fprintf(stderr, "ofx-render: %s: the plug-in asked for %s, which this host does not implement\n",
               gAllowMissing ? "note" : "error", what.c_str());
}

std::vector<std::string> hostGaps() {
  std::lock_guard<std::mutex> lock(gGapMutex);
  return gAllowMissing ? std::vector<std::string>{} : gGaps;
}

void setAllowMissing(bool allow) { gAllowMissing = allow; }

int Property::dimension() const {
  switch (type) {
    case PropType::Int: return static_cast<int>(ints.size());
    case PropType::Double: return static_cast<int>(doubles.size());
    case PropType::String: return static_cast<int>(strings.size());
    case PropType::Pointer: return static_cast<int>(pointers.size());
  }
  return 0;
}

PropertySet::PropertySet(const PropertySet &other) : what_(other.what_) {
  std::lock_guard<std::mutex> lock(other.mutex_);
  props_ = other.props_;
}

void PropertySet::copyFrom(const PropertySet &other) {
  if (&other == this) return;
  std::scoped_lock lock(mutex_, other.mutex_);
  props_ = other.props_;
}

PropertySet *PropertySet::from(OfxPropertySetHandle h) {
  auto *set = reinterpret_cast<PropertySet *>(h);
  return (set != nullptr && set->magic_ == kMagic) ? set : nullptr;
}

void PropertySet::defineInts(const std::string &name, std::vector<int> values) {
  std::lock_guard<std::mutex> lock(mutex_);
  Property p;
  p.type = PropType::Int;
  p.ints = p.initialInts = std::move(values);
  props_[name] = std::move(p);
}

void PropertySet::defineDoubles(const std::string &name, std::vector<double> values) {
  std::lock_guard<std::mutex> lock(mutex_);
  Property p;
  p.type = PropType::Double;
  p.doubles = p.initialDoubles = std::move(values);
  props_[name] = std::move(p);
}

void PropertySet::defineStrings(const std::string &name, std::vector<std::string> values) {
  std::lock_guard<std::mutex> lock(mutex_);
  Property p;
  p.type = PropType::String;
  p.strings = p.initialStrings = std::move(values);
  props_[name] = std::move(p);
}

void PropertySet::definePointers(const std::string &name, std::vector<void *> values) {
  std::lock_guard<std::mutex> lock(mutex_);
  Property p;
  p.type = PropType::Pointer;
  p.pointers = p.initialPointers = std::move(values);
  props_[name] = std::move(p);
}

int PropertySet::getInt(const std::string &name, int index, int fallback) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = props_.find(name);
  if (it == props_.end()) return fallback;
  const Property &p = it->second;
  if (p.type == PropType::Int && index < static_cast<int>(p.ints.size())) return p.ints[index];
  if (p.type == PropType::Double && index < static_cast<int>(p.doubles.size())) return static_cast<int>(p.doubles[index]);
  return fallback;
}

double PropertySet::getDouble(const std::string &name, int index, double fallback) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = props_.find(name);
  if (it == props_.end()) return fallback;
  const Property &p = it->second;
  if (p.type == PropType::Double && index < static_cast<int>(p.doubles.size())) return p.doubles[index];
  if (p.type == PropType::Int && index < static_cast<int>(p.ints.size())) return p.ints[index];
  return fallback;
}

std::string PropertySet::getString(const std::string &name, int index, const std::string &fallback) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = props_.find(name);
  if (it == props_.end() || it->second.type != PropType::String) return fallback;
  const std::vector<std::string> &v = it->second.strings;
  return index < static_cast<int>(v.size()) ? v[index] : fallback;
}

void *PropertySet::getPointer(const std::string &name, int index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = props_.find(name);
  if (it == props_.end() || it->second.type != PropType::Pointer) return nullptr;
  const std::vector<void *> &v = it->second.pointers;
  return index < static_cast<int>(v.size()) ? v[index] : nullptr;
}

std::vector<std::string> PropertySet::getStrings(const std::string &name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = props_.find(name);
  if (it == props_.end() || it->second.type != PropType::String) return {};
  return it->second.strings;
}

bool PropertySet::has(const std::string &name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return props_.count(name) != 0;
}

// Writes value[index]; an unknown property is created with the setter's type (descriptors are open-ended).
OfxStatus PropertySet::set(const char *name, PropType type, int index, const void *value) {
  if (name == nullptr || index < 0) return kOfxStatErrBadIndex;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = props_.find(name);
  if (it == props_.end()) {
    Property p;
    p.type = type;
    it = props_.emplace(name, std::move(p)).first;
  }
  Property &p = it->second;
  if (p.type != type) {
    std::fprintf(stderr, "ofx-render: plug-in set %s property %s on %s as %s\n", typeName(p.type), name,
                 what_.c_str(), typeName(type));
    return kOfxStatErrValue;
  }
  const std::size_t need = static_cast<std::size_t>(index) + 1;
  switch (type) {
    case PropType::Int:
      if (p.ints.size() < need) p.ints.resize(need, 0);
      p.ints[index] = *static_cast<const int *>(value);
      break;
    case PropType::Double:
      if (p.doubles.size() < need) p.doubles.resize(need, 0.0);
      p.doubles[index] = *static_cast<const double *>(value);
      break;
    case PropType::String: {
      if (p.strings.size() < need) p.strings.resize(need);
      const char *s = *static_cast<const char *const *>(value);
      p.strings[index] = s != nullptr ? s : "";
      break;
    }
    case PropType::Pointer:
      if (p.pointers.size() < need) p.pointers.resize(need, nullptr);
      p.pointers[index] = *static_cast<void *const *>(value);
      break;
  }
  return kOfxStatOK;
}

OfxStatus PropertySet::get(const char *name, PropType type, int index, void *value) {
  if (name == nullptr || value == nullptr) return kOfxStatErrBadHandle;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = props_.find(name);
  if (it == props_.end()) {
    reportHostGap(std::string("property ") + name + " on " + what_);
    return kOfxStatErrUnknown;
  }
  Property &p = it->second;
  if (p.type != type) {
    std::fprintf(stderr, "ofx-render: plug-in read %s property %s on %s as %s\n", typeName(p.type), name,
                 what_.c_str(), typeName(type));
    return kOfxStatErrValue;
  }
  if (index < 0 || index >= p.dimension()) return kOfxStatErrBadIndex;
  switch (type) {
    case PropType::Int: *static_cast<int *>(value) = p.ints[index]; break;
    case PropType::Double: *static_cast<double *>(value) = p.doubles[index]; break;
    case PropType::String: *static_cast<char **>(value) = const_cast<char *>(p.strings[index].c_str()); break;
    case PropType::Pointer: *static_cast<void **>(value) = p.pointers[index]; break;
  }
  return kOfxStatOK;
}

OfxStatus PropertySet::reset(const char *name) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = props_.find(name != nullptr ? name : "");
  if (it == props_.end()) return kOfxStatErrUnknown;
  Property &p = it->second;
  p.ints = p.initialInts;
  p.doubles = p.initialDoubles;
  p.strings = p.initialStrings;
  p.pointers = p.initialPointers;
  return kOfxStatOK;
}

OfxStatus PropertySet::dimension(const char *name, int *count) {
  if (name == nullptr || count == nullptr) return kOfxStatErrBadHandle;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = props_.find(name);
  if (it == props_.end()) {
    reportHostGap(std::string("property ") + name + " on " + what_);
    return kOfxStatErrUnknown;
  }
  *count = it->second.dimension();
  return kOfxStatOK;
}

namespace {

template <typename T>
OfxStatus setOne(OfxPropertySetHandle h, const char *name, int index, T value, PropType type) {
  PropertySet *set = PropertySet::from(h);
  return set != nullptr ? set->set(name, type, index, &value) : kOfxStatErrBadHandle;
}

template <typename T>
OfxStatus setMany(OfxPropertySetHandle h, const char *name, int count, const T *values, PropType type) {
  PropertySet *set = PropertySet::from(h);
  if (set == nullptr) return kOfxStatErrBadHandle;
  for (int i = 0; i < count; ++i) {
    OfxStatus st = set->set(name, type, i, &values[i]);
    if (st != kOfxStatOK) return st;
  }
  return kOfxStatOK;
}

template <typename T>
OfxStatus getOne(OfxPropertySetHandle h, const char *name, int index, T *value, PropType type) {
  PropertySet *set = PropertySet::from(h);
  return set != nullptr ? set->get(name, type, index, value) : kOfxStatErrBadHandle;
}

template <typename T>
OfxStatus getMany(OfxPropertySetHandle h, const char *name, int count, T *values, PropType type) {
  PropertySet *set = PropertySet::from(h);
  if (set == nullptr) return kOfxStatErrBadHandle;
  for (int i = 0; i < count; ++i) {
    OfxStatus st = set->get(name, type, i, &values[i]);
    if (st != kOfxStatOK) return st;
  }
  return kOfxStatOK;
}

OfxStatus propSetPointer(OfxPropertySetHandle h, const char *n, int i, void *v) {
  return setOne(h, n, i, v, PropType::Pointer);
}
OfxStatus propSetString(OfxPropertySetHandle h, const char *n, int i, const char *v) {
  return setOne(h, n, i, v, PropType::String);
}
OfxStatus propSetDouble(OfxPropertySetHandle h, const char *n, int i, double v) {
  return setOne(h, n, i, v, PropType::Double);
}
OfxStatus propSetInt(OfxPropertySetHandle h, const char *n, int i, int v) { return setOne(h, n, i, v, PropType::Int); }
OfxStatus propSetPointerN(OfxPropertySetHandle h, const char *n, int c, void *const *v) {
  return setMany(h, n, c, v, PropType::Pointer);
}
OfxStatus propSetStringN(OfxPropertySetHandle h, const char *n, int c, const char *const *v) {
  return setMany(h, n, c, v, PropType::String);
}
OfxStatus propSetDoubleN(OfxPropertySetHandle h, const char *n, int c, const double *v) {
  return setMany(h, n, c, v, PropType::Double);
}
OfxStatus propSetIntN(OfxPropertySetHandle h, const char *n, int c, const int *v) {
  return setMany(h, n, c, v, PropType::Int);
}
OfxStatus propGetPointer(OfxPropertySetHandle h, const char *n, int i, void **v) {
  return getOne(h, n, i, v, PropType::Pointer);
}
OfxStatus propGetString(OfxPropertySetHandle h, const char *n, int i, char **v) {
  return getOne(h, n, i, v, PropType::String);
}
OfxStatus propGetDouble(OfxPropertySetHandle h, const char *n, int i, double *v) {
  return getOne(h, n, i, v, PropType::Double);
}
OfxStatus propGetInt(OfxPropertySetHandle h, const char *n, int i, int *v) {
  return getOne(h, n, i, v, PropType::Int);
}
OfxStatus propGetPointerN(OfxPropertySetHandle h, const char *n, int c, void **v) {
  return getMany(h, n, c, v, PropType::Pointer);
}
OfxStatus propGetStringN(OfxPropertySetHandle h, const char *n, int c, char **v) {
  return getMany(h, n, c, v, PropType::String);
}
OfxStatus propGetDoubleN(OfxPropertySetHandle h, const char *n, int c, double *v) {
  return getMany(h, n, c, v, PropType::Double);
}
OfxStatus propGetIntN(OfxPropertySetHandle h, const char *n, int c, int *v) {
  return getMany(h, n, c, v, PropType::Int);
}
OfxStatus propReset(OfxPropertySetHandle h, const char *n) {
  PropertySet *set = PropertySet::from(h);
  return set != nullptr ? set->reset(n) : kOfxStatErrBadHandle;
}
OfxStatus propGetDimension(OfxPropertySetHandle h, const char *n, int *count) {
  PropertySet *set = PropertySet::from(h);
  return set != nullptr ? set->dimension(n, count) : kOfxStatErrBadHandle;
}

const OfxPropertySuiteV1 kPropertySuite = {
    propSetPointer,  propSetString,  propSetDouble,  propSetInt,     propSetPointerN,  propSetStringN,
    propSetDoubleN,  propSetIntN,    propGetPointer, propGetString,  propGetDouble,    propGetInt,
    propGetPointerN, propGetStringN, propGetDoubleN, propGetIntN,    propReset,        propGetDimension,
};

}  // namespace

const OfxPropertySuiteV1 *propertySuite() { return &kPropertySuite; }

}  // namespace ofxrender
