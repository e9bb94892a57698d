// OfxParameterSuiteV1 for ofx-render: parameters hold one value each (no animation curves); values read at any
// time are that value, so the keyframe calls report no keys.
#include <cstdarg>
#include <cstdio>

#include "Effect.h"

namespace ofxrender {

namespace {

Param *paramFrom(OfxParamHandle h) {
  auto *p = reinterpret_cast<Param *>(h);
  return (p != nullptr && p->magic == Param::kMagic) ? p : nullptr;
}

bool isKnownType(const std::string &t) {
  for (const char *k : {kOfxParamTypeInteger, kOfxParamTypeDouble, kOfxParamTypeBoolean, kOfxParamTypeChoice,
                        kOfxParamTypeRGBA, kOfxParamTypeRGB, kOfxParamTypeDouble2D, kOfxParamTypeInteger2D,
                        kOfxParamTypeDouble3D, kOfxParamTypeInteger3D, kOfxParamTypeString, kOfxParamTypeCustom,
                        kOfxParamTypeGroup, kOfxParamTypePage, kOfxParamTypePushButton}) {
    if (t == k) return true;
  }
  return false;
}

OfxStatus paramDefine(OfxParamSetHandle set, const char *type, const char *name, OfxPropertySetHandle *props) {
  ParamSet *params = ParamSet::from(set);
  if (params == nullptr) return kOfxStatErrBadHandle;
  if (type == nullptr || name == nullptr) return kOfxStatErrValue;
  if (!isKnownType(type)) {
    reportHostGap(std::string("parameter type ") + type);
    return kOfxStatErrUnknown;
  }
  if (params->find(name) != nullptr) return kOfxStatErrExists;
  Param *p = params->add(std::make_unique<Param>(name, type, params->effectProps()->what()));
  if (props != nullptr) *props = p->props.handle();
  return kOfxStatOK;
}

OfxStatus paramGetHandle(OfxParamSetHandle set, const char *name, OfxParamHandle *param,
                         OfxPropertySetHandle *props) {
  ParamSet *params = ParamSet::from(set);
  if (params == nullptr) return kOfxStatErrBadHandle;
  Param *p = name != nullptr ? params->find(name) : nullptr;
  if (p == nullptr) return kOfxStatErrUnknown;
  if (param != nullptr) *param = reinterpret_cast<OfxParamHandle>(p);
  if (props != nullptr) *props = p->props.handle();
  return kOfxStatOK;
}

OfxStatus paramSetGetPropertySet(OfxParamSetHandle set, OfxPropertySetHandle *props) {
  ParamSet *params = ParamSet::from(set);
  if (params == nullptr || props == nullptr) return kOfxStatErrBadHandle;
  *props = params->effectProps()->handle();
  return kOfxStatOK;
}

OfxStatus paramGetPropertySet(OfxParamHandle h, OfxPropertySetHandle *props) {
  Param *p = paramFrom(h);
  if (p == nullptr || props == nullptr) return kOfxStatErrBadHandle;
  *props = p->props.handle();
  return kOfxStatOK;
}

// Writes the value through the pointers in `args`, by declared type.
OfxStatus readValue(Param *p, va_list args) {
  if (p->isText()) {
    char **out = va_arg(args, char **);
    std::lock_guard<std::mutex> lock(p->textMutex);
    *out = const_cast<char *>(p->text.c_str());
    return kOfxStatOK;
  }
  if (p->dimension() == 0) return kOfxStatErrUnsupported;
  for (int i = 0; i < p->dimension(); ++i) {
    if (p->isIntegral()) {
      *va_arg(args, int *) = static_cast<int>(p->values[i]);
    } else {
      *va_arg(args, double *) = p->values[i];
    }
  }
  return kOfxStatOK;
}

OfxStatus writeValue(Param *p, va_list args) {
  if (p->isText()) {
    const char *in = va_arg(args, const char *);
    std::lock_guard<std::mutex> lock(p->textMutex);
    p->text = in != nullptr ? in : "";
    return kOfxStatOK;
  }
  if (p->dimension() == 0) return kOfxStatErrUnsupported;
  for (int i = 0; i < p->dimension(); ++i) {
    p->values[i] = p->isIntegral() ? va_arg(args, int) : va_arg(args, double);
  }
  return kOfxStatOK;
}

OfxStatus paramGetValue(OfxParamHandle h, ...) {
  Param *p = paramFrom(h);
  if (p == nullptr) return kOfxStatErrBadHandle;
  va_list args;
  va_start(args, h);
  OfxStatus st = readValue(p, args);
  va_end(args);
  return st;
}

OfxStatus paramGetValueAtTime(OfxParamHandle h, OfxTime time, ...) {
  Param *p = paramFrom(h);
  if (p == nullptr) return kOfxStatErrBadHandle;
  va_list args;
  va_start(args, time);
  OfxStatus st = readValue(p, args);
  va_end(args);
  return st;
}

// A constant parameter: derivative 0, integral value * (t2 - t1).
OfxStatus writeScaled(Param *p, double factor, va_list args) {
  if (p->isIntegral() || p->isText() || p->dimension() == 0) return kOfxStatErrUnsupported;
  for (int i = 0; i < p->dimension(); ++i) *va_arg(args, double *) = p->values[i] * factor;
  return kOfxStatOK;
}

OfxStatus paramGetDerivative(OfxParamHandle h, OfxTime time, ...) {
  Param *p = paramFrom(h);
  if (p == nullptr) return kOfxStatErrBadHandle;
  va_list args;
  va_start(args, time);
  OfxStatus st = writeScaled(p, 0.0, args);
  va_end(args);
  return st;
}

OfxStatus paramGetIntegral(OfxParamHandle h, OfxTime time1, OfxTime time2, ...) {
  Param *p = paramFrom(h);
  if (p == nullptr) return kOfxStatErrBadHandle;
  va_list args;
  va_start(args, time2);
  OfxStatus st = writeScaled(p, time2 - time1, args);
  va_end(args);
  return st;
}

OfxStatus paramSetValue(OfxParamHandle h, ...) {
  Param *p = paramFrom(h);
  if (p == nullptr) return kOfxStatErrBadHandle;
  va_list args;
  va_start(args, h);
  OfxStatus st = writeValue(p, args);
  va_end(args);
  return st;
}

OfxStatus paramSetValueAtTime(OfxParamHandle h, OfxTime time, ...) {
  Param *p = paramFrom(h);
  if (p == nullptr) return kOfxStatErrBadHandle;
  va_list args;
  va_start(args, time);
  OfxStatus st = writeValue(p, args);  // no curves: a key sets the one value
  va_end(args);
  return st;
}

OfxStatus paramGetNumKeys(OfxParamHandle h, unsigned int *count) {
  if (paramFrom(h) == nullptr || count == nullptr) return kOfxStatErrBadHandle;
  *count = 0;
  return kOfxStatOK;
}

OfxStatus paramGetKeyTime(OfxParamHandle h, unsigned int, OfxTime *) {
  return paramFrom(h) == nullptr ? kOfxStatErrBadHandle : kOfxStatErrBadIndex;
}

OfxStatus paramGetKeyIndex(OfxParamHandle h, OfxTime, int, int *index) {
  if (paramFrom(h) == nullptr || index == nullptr) return kOfxStatErrBadHandle;
  *index = -1;
  return kOfxStatFailed;
}

OfxStatus paramDeleteKey(OfxParamHandle h, OfxTime) {
  return paramFrom(h) == nullptr ? kOfxStatErrBadHandle : kOfxStatErrBadIndex;
}

OfxStatus paramDeleteAllKeys(OfxParamHandle h) { return paramFrom(h) == nullptr ? kOfxStatErrBadHandle : kOfxStatOK; }

OfxStatus paramCopy(OfxParamHandle to, OfxParamHandle from, OfxTime, const OfxRangeD *) {
  Param *dst = paramFrom(to);
  Param *src = paramFrom(from);
  if (dst == nullptr || src == nullptr) return kOfxStatErrBadHandle;
  if (dst->type != src->type) return kOfxStatErrValue;
  dst->values = src->values;
  std::scoped_lock lock(dst->textMutex, src->textMutex);
  dst->text = src->text;
  return kOfxStatOK;
}

OfxStatus paramEditBegin(OfxParamSetHandle set, const char *) {
  return ParamSet::from(set) == nullptr ? kOfxStatErrBadHandle : kOfxStatOK;
}

OfxStatus paramEditEnd(OfxParamSetHandle set) { return ParamSet::from(set) == nullptr ? kOfxStatErrBadHandle : kOfxStatOK; }

const OfxParameterSuiteV1 kParameterSuite = {
    paramDefine,         paramGetHandle,  paramSetGetPropertySet, paramGetPropertySet, paramGetValue,
    paramGetValueAtTime, paramGetDerivative, paramGetIntegral,    paramSetValue,       paramSetValueAtTime,
    paramGetNumKeys,     paramGetKeyTime, paramGetKeyIndex,       paramDeleteKey,      paramDeleteAllKeys,
    paramCopy,           paramEditBegin,  paramEditEnd,
};

}  // namespace

const OfxParameterSuiteV1 *parameterSuite() { return &kParameterSuite; }

}  // namespace ofxrender
