// A tiny OFX image effect for ofx-render's self-tests: inverts colour (alpha copied), blended by an `amount`
// parameter and an optional mask. Test hooks, all off by default:
//   failFrame (int param)          render fails at that frame with a persistent message
//   mode (choice Invert|Identity)  Identity answers the is-identity action with Source
//   CHROMALUMA_TEST_SAFETY=unsafe|instance|full   declared render thread safety (default full); the plug-in fails
//                                  a render that overlaps another where its declaration forbids it
//   CHROMALUMA_TEST_ACTION_LOG=FILE  appends each action name to FILE
//   CHROMALUMA_TEST_MISSING_SUITE=1  fetches a suite no host test needs (to see the host refuse loudly)
//   CHROMALUMA_TEST_TEMPORAL=D:F   declares temporal clip access, asks for Source frames t-D..t+D in getFramesNeeded,
//                                  and fetches (then releases) Source at t-F and t+F in render; `echo` then says
//                                  which of those fetches the host served
//   CHROMALUMA_TEST_CUDA=false|true|needed  declares kOfxImageEffectPropCudaRenderSupported so; `echo` then ends
//                                  with " cuda=N", the kOfxImageEffectPropCudaEnabled render was given (-1: none).
//                                  The effect still reads CPU memory: ofx-render has no GPU
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "ofxGPURender.h"
#include "ofxImageEffect.h"
#include "ofxMessage.h"

namespace {

const OfxHost *gHost = nullptr;
const OfxPropertySuiteV1 *gProps = nullptr;
const OfxImageEffectSuiteV1 *gEffects = nullptr;
const OfxParameterSuiteV1 *gParams = nullptr;
const OfxMessageSuiteV2 *gMessages = nullptr;
std::atomic<int> gRendersInFlight{0};
std::mutex gLogMutex;

std::string safety() {
  const char *s = std::getenv("CHROMALUMA_TEST_SAFETY");
  const std::string v = s != nullptr ? s : "full";
  return v == "unsafe" ? kOfxImageEffectRenderUnsafe
         : v == "instance" ? kOfxImageEffectRenderInstanceSafe : kOfxImageEffectRenderFullySafe;
}

// CHROMALUMA_TEST_TEMPORAL's D (declared) and F (fetched); D < 0 when unset (no temporal access).
void temporalTest(int &declared, int &fetched) {
  const char *v = std::getenv("CHROMALUMA_TEST_TEMPORAL");
  declared = -1;
  fetched = 0;
  if (v != nullptr) std::sscanf(v, "%d:%d", &declared, &fetched);
}

void logAction(const char *action) {
  const char *path = std::getenv("CHROMALUMA_TEST_ACTION_LOG");
  if (path == nullptr) return;
  std::lock_guard<std::mutex> lock(gLogMutex);
  if (std::FILE *f = std::fopen(path, "a")) {
    std::fprintf(f, "%s\n", action);
    std::fclose(f);
  }
}

OfxStatus onLoad() {
  gProps = static_cast<const OfxPropertySuiteV1 *>(gHost->fetchSuite(gHost->host, kOfxPropertySuite, 1));
  gEffects = static_cast<const OfxImageEffectSuiteV1 *>(gHost->fetchSuite(gHost->host, kOfxImageEffectSuite, 1));
  gParams = static_cast<const OfxParameterSuiteV1 *>(gHost->fetchSuite(gHost->host, kOfxParameterSuite, 1));
  gMessages = static_cast<const OfxMessageSuiteV2 *>(gHost->fetchSuite(gHost->host, kOfxMessageSuite, 2));
  if (std::getenv("CHROMALUMA_TEST_MISSING_SUITE") != nullptr) gHost->fetchSuite(gHost->host, "OfxDrawSuite", 1);
  return (gProps && gEffects && gParams && gMessages) ? kOfxStatOK : kOfxStatErrMissingHostFeature;
}

OfxStatus describe(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props;
  gEffects->getPropertySet(effect, &props);
  gProps->propSetString(props, kOfxPropLabel, 0, "Chromaluma Test Invert");
  gProps->propSetString(props, kOfxImageEffectPluginPropGrouping, 0, "Chromaluma");
  gProps->propSetString(props, kOfxImageEffectPropSupportedContexts, 0, kOfxImageEffectContextFilter);
  gProps->propSetString(props, kOfxImageEffectPropSupportedContexts, 1, kOfxImageEffectContextGeneral);
  const char *depths[] = {kOfxBitDepthByte, kOfxBitDepthShort, kOfxBitDepthFloat};
  gProps->propSetStringN(props, kOfxImageEffectPropSupportedPixelDepths, 3, depths);
  gProps->propSetString(props, kOfxImageEffectPluginRenderThreadSafety, 0, safety().c_str());
  gProps->propSetInt(props, kOfxImageEffectPluginPropHostFrameThreading, 0, 0);
  gProps->propSetInt(props, kOfxImageEffectPropSupportsTiles, 0, 1);
  const char *multires = std::getenv("CHROMALUMA_TEST_MULTIRES");  // "0": full-resolution renders only
  if (multires != nullptr) gProps->propSetInt(props, kOfxImageEffectPropSupportsMultiResolution, 0, std::atoi(multires));
  int declared = 0, fetched = 0;
  temporalTest(declared, fetched);
  if (declared >= 0) gProps->propSetInt(props, kOfxImageEffectPropTemporalClipAccess, 0, 1);
  if (const char *cuda = std::getenv("CHROMALUMA_TEST_CUDA"))
    gProps->propSetString(props, kOfxImageEffectPropCudaRenderSupported, 0, cuda);
  return kOfxStatOK;
}

void defineClip(OfxImageEffectHandle effect, const char *name, bool mask) {
  OfxPropertySetHandle clip;
  gEffects->clipDefine(effect, name, &clip);
  if (mask) {
    gProps->propSetString(clip, kOfxImageEffectPropSupportedComponents, 0, kOfxImageComponentAlpha);
    gProps->propSetInt(clip, kOfxImageClipPropOptional, 0, 1);
    gProps->propSetInt(clip, kOfxImageClipPropIsMask, 0, 1);
    return;
  }
  gProps->propSetString(clip, kOfxImageEffectPropSupportedComponents, 0, kOfxImageComponentRGBA);
  gProps->propSetString(clip, kOfxImageEffectPropSupportedComponents, 1, kOfxImageComponentRGB);
}

OfxStatus describeInContext(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs) {
  char *context = nullptr;
  gProps->propGetString(inArgs, kOfxImageEffectPropContext, 0, &context);
  defineClip(effect, kOfxImageEffectSimpleSourceClipName, false);
  if (context != nullptr && std::strcmp(context, kOfxImageEffectContextGeneral) == 0) defineClip(effect, "Mask", true);
  defineClip(effect, kOfxImageEffectOutputClipName, false);
  OfxParamSetHandle params;
  gEffects->getParamSet(effect, &params);
  OfxPropertySetHandle p;
  gParams->paramDefine(params, kOfxParamTypeDouble, "amount", &p);
  gProps->propSetDouble(p, kOfxParamPropDefault, 0, 1.0);
  gProps->propSetString(p, kOfxParamPropHint, 0, "How much of the inversion to apply");
  gParams->paramDefine(params, kOfxParamTypeInteger, "failFrame", &p);
  gProps->propSetInt(p, kOfxParamPropDefault, 0, -1000000);
  gParams->paramDefine(params, kOfxParamTypeChoice, "mode", &p);
  gProps->propSetString(p, kOfxParamPropChoiceOption, 0, "Invert");
  gProps->propSetString(p, kOfxParamPropChoiceOption, 1, "Identity");
  gParams->paramDefine(params, kOfxParamTypeString, "note", &p);
  gProps->propSetString(p, kOfxParamPropDefault, 0, "");
  gParams->paramDefine(params, kOfxParamTypeString, "echo", &p);  // written by the effect (--print-params test)
  gProps->propSetString(p, kOfxParamPropDefault, 0, "");
  return kOfxStatOK;
}

OfxParamHandle param(OfxImageEffectHandle effect, const char *name) {
  OfxParamSetHandle params;
  OfxParamHandle handle = nullptr;
  gEffects->getParamSet(effect, &params);
  gParams->paramGetHandle(params, name, &handle, nullptr);
  return handle;
}

// A fetched image: where its pixels are and how they are laid out.
struct View {
  OfxPropertySetHandle handle = nullptr;
  unsigned char *data = nullptr;
  OfxRectI bounds{0, 0, 0, 0};
  int rowBytes = 0;
  int components = 0;
  int sampleBytes = 0;
  bool contains(int x, int y) const { return x >= bounds.x1 && x < bounds.x2 && y >= bounds.y1 && y < bounds.y2; }
  unsigned char *sample(int x, int y, int c) const {
    return data + static_cast<long>(y - bounds.y1) * rowBytes +
           (static_cast<long>(x - bounds.x1) * components + c) * sampleBytes;
  }
};

bool fetch(OfxImageEffectHandle effect, const char *clipName, OfxTime time, View &view) {
  OfxImageClipHandle clip;
  if (gEffects->clipGetHandle(effect, clipName, &clip, nullptr) != kOfxStatOK) return false;
  if (gEffects->clipGetImage(clip, time, nullptr, &view.handle) != kOfxStatOK) return false;
  char *depth = nullptr, *components = nullptr;
  gProps->propGetPointer(view.handle, kOfxImagePropData, 0, reinterpret_cast<void **>(&view.data));
  gProps->propGetIntN(view.handle, kOfxImagePropBounds, 4, &view.bounds.x1);
  gProps->propGetInt(view.handle, kOfxImagePropRowBytes, 0, &view.rowBytes);
  gProps->propGetString(view.handle, kOfxImageEffectPropPixelDepth, 0, &depth);
  gProps->propGetString(view.handle, kOfxImageEffectPropComponents, 0, &components);
  view.sampleBytes = std::strcmp(depth, kOfxBitDepthByte) == 0 ? 1 : std::strcmp(depth, kOfxBitDepthShort) == 0 ? 2 : 4;
  view.components = std::strcmp(components, kOfxImageComponentRGBA) == 0 ? 4
                    : std::strcmp(components, kOfxImageComponentRGB) == 0 ? 3 : 1;
  return true;
}

double load(const View &v, int x, int y, int c) {
  const unsigned char *p = v.sample(x, y, c);
  if (v.sampleBytes == 1) return *p / 255.0;
  if (v.sampleBytes == 2) {
    unsigned short s;
    std::memcpy(&s, p, 2);
    return s / 65535.0;
  }
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

void store(const View &v, int x, int y, int c, double value) {
  unsigned char *p = v.sample(x, y, c);
  if (v.sampleBytes == 4) {
    const float f = static_cast<float>(value);
    std::memcpy(p, &f, 4);
    return;
  }
  const double top = v.sampleBytes == 1 ? 255.0 : 65535.0;
  const double q = std::fmin(top, std::fmax(0.0, std::round(value * top)));
  if (v.sampleBytes == 1) {
    *p = static_cast<unsigned char>(q);
  } else {
    const unsigned short s = static_cast<unsigned short>(q);
    std::memcpy(p, &s, 2);
  }
}

void invertWindow(const View &src, const View *mask, const View &dst, const OfxRectI &w, double amount) {
  for (int y = w.y1; y < w.y2; ++y) {
    for (int x = w.x1; x < w.x2; ++x) {
      const bool inside = src.contains(x, y);
      const double m = (mask != nullptr && mask->contains(x, y)) ? load(*mask, x, y, 0) : 1.0;
      for (int c = 0; c < 3; ++c) {
        const double s = inside ? load(src, x, y, c) : 0.0;
        store(dst, x, y, c, s + amount * m * ((1.0 - s) - s));
      }
      if (dst.components == 4) store(dst, x, y, 3, (inside && src.components == 4) ? load(src, x, y, 3) : 1.0);
    }
  }
}

struct InstanceData {
  std::atomic<int> rendersInFlight{0};
};

InstanceData *instanceData(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props;
  void *data = nullptr;
  gEffects->getPropertySet(effect, &props);
  gProps->propGetPointer(props, kOfxPropInstanceData, 0, &data);
  return static_cast<InstanceData *>(data);
}

// Fails the render when the host overlaps renders the declared thread safety forbids.
bool overlapAllowed(OfxImageEffectHandle effect, int global, int local) {
  const std::string declared = safety();
  if (declared == kOfxImageEffectRenderUnsafe && global > 1) {
    gMessages->setPersistentMessage(effect, kOfxMessageError, "", "host overlapped renders of an unsafe plug-in");
    return false;
  }
  if (declared == kOfxImageEffectRenderInstanceSafe && local > 1) {
    gMessages->setPersistentMessage(effect, kOfxMessageError, "", "host overlapped renders on one instance");
    return false;
  }
  return true;
}

// CHROMALUMA_TEST_TEMPORAL: Source at t-F and t+F, fetched and released; "t-F ok|failed, t+F ok|failed".
std::string fetchNeighbours(OfxImageEffectHandle effect, OfxTime time) {
  int declared = 0, fetched = 0;
  temporalTest(declared, fetched);
  if (declared < 0 || fetched == 0) return "";
  std::string said;
  for (const int k : {-fetched, fetched}) {
    View other;
    const bool ok = fetch(effect, kOfxImageEffectSimpleSourceClipName, time + k, other);
    if (ok) gEffects->clipReleaseImage(other.handle);
    said += std::string(said.empty() ? " (" : ", ") + "t" + (k < 0 ? "-" : "+") + std::to_string(std::abs(k)) +
            (ok ? " ok" : " failed");
  }
  return said + ")";
}

OfxStatus framesNeeded(OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
  int declared = 0, fetched = 0;
  temporalTest(declared, fetched);
  OfxTime time = 0;
  gProps->propGetDouble(inArgs, kOfxPropTime, 0, &time);
  const double range[2] = {time - declared, time + declared};
  gProps->propSetDoubleN(outArgs, "OfxImageClipPropFrameRange_" kOfxImageEffectSimpleSourceClipName, 2, range);
  return kOfxStatOK;
}

OfxStatus renderImages(OfxImageEffectHandle effect, OfxTime time, const OfxRectI &window, std::string &fetches) {
  int failFrame = 0;
  double amount = 1.0;
  gParams->paramGetValueAtTime(param(effect, "failFrame"), time, &failFrame);
  gParams->paramGetValueAtTime(param(effect, "amount"), time, &amount);
  if (static_cast<int>(time) == failFrame) {
    gMessages->setPersistentMessage(effect, kOfxMessageError, "", "failing frame %d on request", failFrame);
    return kOfxStatFailed;
  }
  gMessages->clearPersistentMessage(effect);
  View src, dst, mask;
  if (!fetch(effect, kOfxImageEffectSimpleSourceClipName, time, src)) return kOfxStatFailed;
  if (!fetch(effect, kOfxImageEffectOutputClipName, time, dst)) {
    gEffects->clipReleaseImage(src.handle);
    return kOfxStatFailed;
  }
  const bool masked = fetch(effect, "Mask", time, mask);
  fetches = fetchNeighbours(effect, time);
  invertWindow(src, masked ? &mask : nullptr, dst, window, amount);
  if (masked) gEffects->clipReleaseImage(mask.handle);
  gEffects->clipReleaseImage(src.handle);
  gEffects->clipReleaseImage(dst.handle);
  return gEffects->abort(effect) ? kOfxStatFailed : kOfxStatOK;
}

// The effect writes a parameter itself, as Chromaluma Restore writes modelInfo: "changed NAME" here,
// "rendered frame N" after a render.
OfxStatus instanceChanged(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs) {
  char *name = nullptr;
  gProps->propGetString(inArgs, kOfxPropName, 0, &name);
  const std::string text = std::string("changed ") + (name != nullptr ? name : "?");
  gParams->paramSetValue(param(effect, "echo"), text.c_str());
  return kOfxStatOK;
}

OfxStatus render(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs) {
  OfxTime time = 0;
  OfxRectI window;
  gProps->propGetDouble(inArgs, kOfxPropTime, 0, &time);
  gProps->propGetIntN(inArgs, kOfxImageEffectPropRenderWindow, 4, &window.x1);
  InstanceData *data = instanceData(effect);
  const int global = ++gRendersInFlight;
  const int local = ++data->rendersInFlight;
  std::this_thread::sleep_for(std::chrono::milliseconds(3));  // widen the window in which overlaps show
  std::string fetches;
  OfxStatus st = overlapAllowed(effect, global, local) ? renderImages(effect, time, window, fetches) : kOfxStatFailed;
  --data->rendersInFlight;
  --gRendersInFlight;
  if (st == kOfxStatOK) {
    std::string text = "rendered frame " + std::to_string(static_cast<int>(time)) + fetches;
    if (std::getenv("CHROMALUMA_TEST_CUDA") != nullptr) {
      int cuda = -1;
      gProps->propGetInt(inArgs, kOfxImageEffectPropCudaEnabled, 0, &cuda);
      text += " cuda=" + std::to_string(cuda);
    }
    gParams->paramSetValue(param(effect, "echo"), text.c_str());
  }
  return st;
}

OfxStatus isIdentity(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
  OfxTime time = 0;
  int mode = 0;
  gProps->propGetDouble(inArgs, kOfxPropTime, 0, &time);
  gParams->paramGetValueAtTime(param(effect, "mode"), time, &mode);
  if (mode != 1) return kOfxStatReplyDefault;
  gProps->propSetString(outArgs, kOfxPropName, 0, kOfxImageEffectSimpleSourceClipName);
  return kOfxStatOK;
}

OfxStatus createInstance(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props;
  gEffects->getPropertySet(effect, &props);
  gProps->propSetPointer(props, kOfxPropInstanceData, 0, new InstanceData);
  return kOfxStatOK;
}

OfxStatus destroyInstance(OfxImageEffectHandle effect) {
  delete instanceData(effect);
  return kOfxStatOK;
}

OfxStatus mainEntry(const char *action, const void *handle, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
  logAction(action);
  auto effect = static_cast<OfxImageEffectHandle>(const_cast<void *>(handle));
  const std::string a = action;
  if (a == kOfxActionLoad) return onLoad();
  if (a == kOfxActionDescribe) return describe(effect);
  if (a == kOfxImageEffectActionDescribeInContext) return describeInContext(effect, inArgs);
  if (a == kOfxActionCreateInstance) return createInstance(effect);
  if (a == kOfxActionDestroyInstance) return destroyInstance(effect);
  if (a == kOfxImageEffectActionIsIdentity) return isIdentity(effect, inArgs, outArgs);
  if (a == kOfxImageEffectActionRender) return render(effect, inArgs);
  if (a == kOfxImageEffectActionGetFramesNeeded) return framesNeeded(inArgs, outArgs);
  if (a == kOfxActionInstanceChanged) return instanceChanged(effect, inArgs);
  if (a == kOfxActionUnload) return kOfxStatOK;
  return kOfxStatReplyDefault;
}

void setHost(OfxHost *host) { gHost = host; }

OfxPlugin gPlugin = {kOfxImageEffectPluginApi, kOfxImageEffectPluginApiVersion, "org.chromaluma.test.Invert", 1, 0,
                     setHost, mainEntry};

}  // namespace

extern "C" {
__attribute__((visibility("default"))) OfxExport int OfxGetNumberOfPlugins(void) { return 1; }
__attribute__((visibility("default"))) OfxExport OfxPlugin *OfxGetPlugin(int nth) {
  return nth == 0 ? &gPlugin : nullptr;
}
__attribute__((visibility("default"))) OfxExport OfxStatus OfxSetHost(const OfxHost *host) {
  gHost = host;
  return kOfxStatOK;
}
}
