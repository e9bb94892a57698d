// fetchSuite and the host-wide suites of ofx-render.
#include "HostSuites.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "Effect.h"
#include "PropertySet.h"
#include "ofxGPURender.h"
#include "ofxMemory.h"
#include "ofxMessage.h"
#include "ofxMultiThread.h"
#include "ofxProgress.h"
#include "ofxTimeLine.h"

namespace ofxrender {

namespace {

// ---- memory ----
OfxStatus memoryAlloc(void *, size_t nBytes, void **data) {
  if (data == nullptr) return kOfxStatErrBadHandle;
  *data = std::aligned_alloc(16, (nBytes + 15) / 16 * 16 + 16);
  return *data != nullptr ? kOfxStatOK : kOfxStatErrMemory;
}

OfxStatus memoryFree(void *data) {
  std::free(data);
  return kOfxStatOK;
}

const OfxMemorySuiteV1 kMemorySuite = {memoryAlloc, memoryFree};

// ---- messages ----
std::string formatMessage(const char *format, va_list args) {
  if (format == nullptr) return "";
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string text(n > 0 ? static_cast<std::size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(text.data(), text.size() + 1, format, args);
  return text;
}

OfxStatus postMessage(void *, const char *type, const char *, const char *format, ...) {
  va_list args;
  va_start(args, format);
  const std::string text = formatMessage(format, args);
  va_end(args);
  std::fprintf(stderr, "ofx-render: plug-in message [%s]: %s\n", type != nullptr ? type : "?", text.c_str());
  // Questions need a user; a render farm host has none.
  if (type != nullptr && std::string(type) == kOfxMessageQuestion) return kOfxStatFailed;
  return kOfxStatOK;
}

OfxStatus setPersistentMessage(void *handle, const char *type, const char *, const char *format, ...) {
  Effect *effect = Effect::from(handle);
  if (effect == nullptr) return kOfxStatErrBadHandle;
  va_list args;
  va_start(args, format);
  const std::string text = formatMessage(format, args);
  va_end(args);
  {
    std::lock_guard<std::mutex> lock(effect->messageMutex);
    effect->persistentType = type != nullptr ? type : kOfxMessageError;
    effect->persistentMessage = text;
  }
  std::fprintf(stderr, "ofx-render: plug-in persistent message [%s]: %s\n", type != nullptr ? type : "?",
               text.c_str());
  return kOfxStatOK;
}

OfxStatus clearPersistentMessage(void *handle) {
  Effect *effect = Effect::from(handle);
  if (effect == nullptr) return kOfxStatErrBadHandle;
  effect->takePersistentMessage(true);
  return kOfxStatOK;
}

// V2 begins with V1's member, so one struct serves both versions.
const OfxMessageSuiteV2 kMessageSuite = {postMessage, setPersistentMessage, clearPersistentMessage};

// ---- threads ----
thread_local unsigned tThreadIndex = 0;
thread_local bool tSpawned = false;

OfxStatus multiThread(OfxThreadFunctionV1 func, unsigned int nThreads, void *arg) {
  if (func == nullptr) return kOfxStatFailed;
  if (tSpawned) return kOfxStatErrExists;  // no recursion, per the standard
  if (nThreads <= 1) {
    tSpawned = true;
    func(0, 1, arg);
    tSpawned = false;
    return kOfxStatOK;
  }
  std::vector<std::thread> threads;
  threads.reserve(nThreads);
  for (unsigned i = 0; i < nThreads; ++i) {
    threads.emplace_back([=] {
      tThreadIndex = i;
      tSpawned = true;
      func(i, nThreads, arg);
    });
  }
  for (std::thread &t : threads) t.join();
  return kOfxStatOK;
}

OfxStatus multiThreadNumCPUs(unsigned int *n) {
  if (n == nullptr) return kOfxStatFailed;
  *n = std::max(1u, std::thread::hardware_concurrency());
  return kOfxStatOK;
}

OfxStatus multiThreadIndex(unsigned int *index) {
  if (index == nullptr) return kOfxStatFailed;
  *index = tSpawned ? tThreadIndex : 0;
  return kOfxStatOK;
}

int multiThreadIsSpawnedThread() { return tSpawned ? 1 : 0; }

struct HostMutex {
  std::recursive_mutex mutex;
};

OfxStatus mutexCreate(OfxMutexHandle *handle, int lockCount) {
  if (handle == nullptr) return kOfxStatErrBadHandle;
  auto *m = new HostMutex;
  for (int i = 0; i < lockCount; ++i) m->mutex.lock();
  *handle = reinterpret_cast<OfxMutexHandle>(m);
  return kOfxStatOK;
}

OfxStatus mutexDestroy(const OfxMutexHandle handle) {
  if (handle == nullptr) return kOfxStatErrBadHandle;
  delete reinterpret_cast<HostMutex *>(handle);
  return kOfxStatOK;
}

OfxStatus mutexLock(const OfxMutexHandle handle) {
  if (handle == nullptr) return kOfxStatErrBadHandle;
  reinterpret_cast<HostMutex *>(handle)->mutex.lock();
  return kOfxStatOK;
}

OfxStatus mutexUnLock(const OfxMutexHandle handle) {
  if (handle == nullptr) return kOfxStatErrBadHandle;
  reinterpret_cast<HostMutex *>(handle)->mutex.unlock();
  return kOfxStatOK;
}

OfxStatus mutexTryLock(const OfxMutexHandle handle) {
  if (handle == nullptr) return kOfxStatErrBadHandle;
  return reinterpret_cast<HostMutex *>(handle)->mutex.try_lock() ? kOfxStatOK : kOfxStatFailed;
}

const OfxMultiThreadSuiteV1 kMultiThreadSuite = {multiThread, multiThreadNumCPUs, multiThreadIndex,
                                                 multiThreadIsSpawnedThread, mutexCreate, mutexDestroy,
                                                 mutexLock, mutexUnLock, mutexTryLock};

// ---- progress (to stderr; a farm host has no dialog) ----
OfxStatus progressStartV1(void *instance, const char *label) {
  if (instance == nullptr) return kOfxStatErrBadHandle;
  std::fprintf(stderr, "ofx-render: progress: %s\n", label != nullptr ? label : "");
  return kOfxStatOK;
}

OfxStatus progressStartV2(void *instance, const char *message, const char *) {
  return progressStartV1(instance, message);
}

OfxStatus progressUpdate(void *instance, double) {
  Effect *e = Effect::from(instance);
  if (e == nullptr) return kOfxStatErrBadHandle;
  return (e->frames != nullptr && e->frames->aborted()) ? kOfxStatReplyNo : kOfxStatOK;
}

OfxStatus progressEnd(void *instance) { return instance != nullptr ? kOfxStatOK : kOfxStatErrBadHandle; }

const OfxProgressSuiteV1 kProgressSuiteV1 = {progressStartV1, progressUpdate, progressEnd};
const OfxProgressSuiteV2 kProgressSuiteV2 = {progressStartV2, progressUpdate, progressEnd};

// ---- time line ----
std::atomic<double> gFirstTime{0.0};
std::atomic<double> gLastTime{0.0};
thread_local double tCurrentTime = 0.0;

OfxStatus getTime(void *instance, double *time) {
  if (instance == nullptr || time == nullptr) return kOfxStatErrBadHandle;
  *time = tCurrentTime;
  return kOfxStatOK;
}

OfxStatus gotoTime(void *instance, double) { return instance != nullptr ? kOfxStatFailed : kOfxStatErrBadHandle; }

OfxStatus getTimeBounds(void *instance, double *first, double *last) {
  if (instance == nullptr || first == nullptr || last == nullptr) return kOfxStatErrBadHandle;
  *first = gFirstTime;
  *last = gLastTime;
  return kOfxStatOK;
}

const OfxTimeLineSuiteV1 kTimeLineSuite = {getTime, gotoTime, getTimeBounds};

const void *fetchSuite(OfxPropertySetHandle host, const char *name, int version) {
  if (host != ofxHost()->host || name == nullptr) return nullptr;
  const std::string suite = name;
  if (suite == kOfxPropertySuite && version == 1) return propertySuite();
  if (suite == kOfxImageEffectSuite && version == 1) return imageEffectSuite();
  if (suite == kOfxParameterSuite && version == 1) return parameterSuite();
  if (suite == kOfxMemorySuite && version == 1) return &kMemorySuite;
  if (suite == kOfxMessageSuite && (version == 1 || version == 2)) return &kMessageSuite;
  if (suite == kOfxMultiThreadSuite && version == 1) return &kMultiThreadSuite;
  if (suite == kOfxProgressSuite && version == 1) return &kProgressSuiteV1;
  if (suite == kOfxProgressSuite && version == 2) return &kProgressSuiteV2;
  if (suite == kOfxTimeLineSuite && version == 1) return &kTimeLineSuite;
  reportHostGap("suite " + suite + " version " + std::to_string(version));
  return nullptr;
}

void describeHost(PropertySet &p) {
  p.defineStrings(kOfxPropType, {kOfxTypeImageEffectHost});
  p.defineStrings(kOfxPropName, {"org.chromaluma.ofx-render"});
  p.defineStrings(kOfxPropLabel, {"ofx-render"});
  p.defineInts(kOfxPropVersion, {1, 0, 0});
  p.defineStrings(kOfxPropVersionLabel, {"1.0.0"});
  p.defineInts(kOfxPropAPIVersion, {1, 4});
  p.definePointers(kOfxPropHostOSHandle, {nullptr});
  p.defineInts(kOfxImageEffectHostPropIsBackground, {1});
  p.defineInts(kOfxImageEffectPropSupportsOverlays, {0});
  p.defineInts(kOfxImageEffectPropSupportsMultiResolution, {1});
  p.defineInts(kOfxImageEffectPropSupportsTiles, {1});
  p.defineInts(kOfxImageEffectPropTemporalClipAccess, {1});
  p.defineStrings(kOfxImageEffectPropSupportedComponents,
                  {kOfxImageComponentRGBA, kOfxImageComponentRGB, kOfxImageComponentAlpha});
  p.defineStrings(kOfxImageEffectPropSupportedContexts, {kOfxImageEffectContextFilter, kOfxImageEffectContextGeneral});
  p.defineStrings(kOfxImageEffectPropSupportedPixelDepths, {kOfxBitDepthByte, kOfxBitDepthShort, kOfxBitDepthFloat});
  p.defineInts(kOfxImageEffectPropSupportsMultipleClipDepths, {0});
  p.defineInts(kOfxImageEffectPropSupportsMultipleClipPARs, {0});
  p.defineInts(kOfxImageEffectPropSetableFrameRate, {0});
  p.defineInts(kOfxImageEffectPropSetableFielding, {0});
  p.defineInts(kOfxImageEffectInstancePropSequentialRender, {0});
  p.defineStrings(kOfxImageEffectHostPropNativeOrigin, {kOfxHostNativeOriginBottomLeft});
  p.defineInts(kOfxImageEffectPropRenderQualityDraft, {0});
  p.defineStrings(kOfxImageEffectPropCudaRenderSupported, {"false"});  // "true" with --cuda-render
  p.defineStrings(kOfxImageEffectPropCudaStreamSupported, {"false"});  // no stream: there is no GPU to queue on
  for (const char *k : {kOfxParamHostPropSupportsCustomInteract, kOfxParamHostPropSupportsStringAnimation,
                        kOfxParamHostPropSupportsChoiceAnimation, kOfxParamHostPropSupportsBooleanAnimation,
                        kOfxParamHostPropSupportsCustomAnimation}) {
    p.defineInts(k, {0});
  }
  p.defineInts(kOfxParamHostPropMaxParameters, {-1});
  p.defineInts(kOfxParamHostPropMaxPages, {0});
  p.defineInts(kOfxParamHostPropPageRowColumnCount, {0, 0});
}

}  // namespace

namespace {

PropertySet &hostProperties() {
  static PropertySet props("host");
  static const bool described = [] {
    describeHost(props);
    return true;
  }();
  (void)described;
  return props;
}

}  // namespace

OfxHost *ofxHost() {
  static OfxHost host{hostProperties().handle(), fetchSuite};
  return &host;
}

void setHostCudaRender(bool offered) {
  hostProperties().defineStrings(kOfxImageEffectPropCudaRenderSupported, {offered ? "true" : "false"});
}

void setTimeLineBounds(double first, double last) {
  gFirstTime = first;
  gLastTime = last;
}

void setCurrentTime(double time) { tCurrentTime = time; }

}  // namespace ofxrender
