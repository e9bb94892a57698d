// ABI of the OpenFX declarations in ofx_plugin/include: sizes and member offsets on x86-64 LP64 (pointers 8 bytes,
// int 4, double 8), derived from the layouts the OpenFX standard publishes. A host built on the official SDK reads
// these structs by offset, so any drift here is a crash in Resolve or Nuke, not a compile error.
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "ofxCore.h"
#include "ofxGPURender.h"
#include "ofxImageEffect.h"
#include "ofxInteract.h"
#include "ofxMemory.h"
#include "ofxMessage.h"
#include "ofxMultiThread.h"
#include "ofxParam.h"
#include "ofxPixels.h"
#include "ofxProgress.h"
#include "ofxProperty.h"
#include "ofxTimeLine.h"

static_assert(sizeof(void *) == 8 && sizeof(int) == 4, "these expectations are for LP64");

constexpr std::size_t kPtr = 8;

// nth function pointer of a suite lives at n * 8
#define SLOT(type, member, n) static_assert(offsetof(type, member) == (n) * kPtr, #type "::" #member " is slot " #n)

// OfxHost: {handle, fetchSuite}
static_assert(sizeof(OfxHost) == 16, "OfxHost");
static_assert(offsetof(OfxHost, fetchSuite) == 8, "OfxHost::fetchSuite");

// OfxPlugin: ptr, int (+4 padding), ptr, uint, uint, fnptr, fnptr
static_assert(offsetof(OfxPlugin, pluginApi) == 0, "OfxPlugin::pluginApi");
static_assert(offsetof(OfxPlugin, apiVersion) == 8, "OfxPlugin::apiVersion");
static_assert(offsetof(OfxPlugin, pluginIdentifier) == 16, "OfxPlugin::pluginIdentifier");
static_assert(offsetof(OfxPlugin, pluginVersionMajor) == 24, "OfxPlugin::pluginVersionMajor");
static_assert(offsetof(OfxPlugin, pluginVersionMinor) == 28, "OfxPlugin::pluginVersionMinor");
static_assert(offsetof(OfxPlugin, setHost) == 32, "OfxPlugin::setHost");
static_assert(offsetof(OfxPlugin, mainEntry) == 40, "OfxPlugin::mainEntry");
static_assert(sizeof(OfxPlugin) == 48, "OfxPlugin");

// geometry
static_assert(sizeof(OfxRectI) == 16 && offsetof(OfxRectI, y2) == 12, "OfxRectI");
static_assert(sizeof(OfxRectD) == 32 && offsetof(OfxRectD, y1) == 8 && offsetof(OfxRectD, y2) == 24, "OfxRectD");
static_assert(sizeof(OfxPointI) == 8 && offsetof(OfxPointI, y) == 4, "OfxPointI");
static_assert(sizeof(OfxPointD) == 16 && offsetof(OfxPointD, y) == 8, "OfxPointD");
static_assert(sizeof(OfxRangeI) == 8 && offsetof(OfxRangeI, max) == 4, "OfxRangeI");
static_assert(sizeof(OfxRangeD) == 16 && offsetof(OfxRangeD, max) == 8, "OfxRangeD");
static_assert(sizeof(OfxTime) == 8, "OfxTime is a double");

// pixels
static_assert(sizeof(OfxRGBAColourB) == 4 && offsetof(OfxRGBAColourB, a) == 3, "OfxRGBAColourB");
static_assert(sizeof(OfxRGBAColourS) == 8 && offsetof(OfxRGBAColourS, a) == 6, "OfxRGBAColourS");
static_assert(sizeof(OfxRGBAColourF) == 16 && offsetof(OfxRGBAColourF, a) == 12, "OfxRGBAColourF");
static_assert(sizeof(OfxRGBAColourD) == 32 && offsetof(OfxRGBAColourD, a) == 24, "OfxRGBAColourD");
static_assert(sizeof(OfxRGBColourB) == 3 && sizeof(OfxRGBColourS) == 6, "OfxRGBColourB/S");
static_assert(sizeof(OfxRGBColourF) == 12 && sizeof(OfxRGBColourD) == 24, "OfxRGBColourF/D");

// property suite: 8 setters (single then N), 8 getters, reset, dimension
SLOT(OfxPropertySuiteV1, propSetPointer, 0);
SLOT(OfxPropertySuiteV1, propSetString, 1);
SLOT(OfxPropertySuiteV1, propSetDouble, 2);
SLOT(OfxPropertySuiteV1, propSetInt, 3);
SLOT(OfxPropertySuiteV1, propSetPointerN, 4);
SLOT(OfxPropertySuiteV1, propSetStringN, 5);
SLOT(OfxPropertySuiteV1, propSetDoubleN, 6);
SLOT(OfxPropertySuiteV1, propSetIntN, 7);
SLOT(OfxPropertySuiteV1, propGetPointer, 8);
SLOT(OfxPropertySuiteV1, propGetString, 9);
SLOT(OfxPropertySuiteV1, propGetDouble, 10);
SLOT(OfxPropertySuiteV1, propGetInt, 11);
SLOT(OfxPropertySuiteV1, propGetPointerN, 12);
SLOT(OfxPropertySuiteV1, propGetStringN, 13);
SLOT(OfxPropertySuiteV1, propGetDoubleN, 14);
SLOT(OfxPropertySuiteV1, propGetIntN, 15);
SLOT(OfxPropertySuiteV1, propReset, 16);
SLOT(OfxPropertySuiteV1, propGetDimension, 17);
static_assert(sizeof(OfxPropertySuiteV1) == 18 * kPtr, "OfxPropertySuiteV1");

SLOT(OfxImageEffectSuiteV1, getPropertySet, 0);
SLOT(OfxImageEffectSuiteV1, getParamSet, 1);
SLOT(OfxImageEffectSuiteV1, clipDefine, 2);
SLOT(OfxImageEffectSuiteV1, clipGetHandle, 3);
SLOT(OfxImageEffectSuiteV1, clipGetPropertySet, 4);
SLOT(OfxImageEffectSuiteV1, clipGetImage, 5);
SLOT(OfxImageEffectSuiteV1, clipReleaseImage, 6);
SLOT(OfxImageEffectSuiteV1, clipGetRegionOfDefinition, 7);
SLOT(OfxImageEffectSuiteV1, abort, 8);
SLOT(OfxImageEffectSuiteV1, imageMemoryAlloc, 9);
SLOT(OfxImageEffectSuiteV1, imageMemoryFree, 10);
SLOT(OfxImageEffectSuiteV1, imageMemoryLock, 11);
SLOT(OfxImageEffectSuiteV1, imageMemoryUnlock, 12);
static_assert(sizeof(OfxImageEffectSuiteV1) == 13 * kPtr, "OfxImageEffectSuiteV1");

SLOT(OfxParameterSuiteV1, paramDefine, 0);
SLOT(OfxParameterSuiteV1, paramGetHandle, 1);
SLOT(OfxParameterSuiteV1, paramSetGetPropertySet, 2);
SLOT(OfxParameterSuiteV1, paramGetPropertySet, 3);
SLOT(OfxParameterSuiteV1, paramGetValue, 4);
SLOT(OfxParameterSuiteV1, paramGetValueAtTime, 5);
SLOT(OfxParameterSuiteV1, paramGetDerivative, 6);
SLOT(OfxParameterSuiteV1, paramGetIntegral, 7);
SLOT(OfxParameterSuiteV1, paramSetValue, 8);
SLOT(OfxParameterSuiteV1, paramSetValueAtTime, 9);
SLOT(OfxParameterSuiteV1, paramGetNumKeys, 10);
SLOT(OfxParameterSuiteV1, paramGetKeyTime, 11);
SLOT(OfxParameterSuiteV1, paramGetKeyIndex, 12);
SLOT(OfxParameterSuiteV1, paramDeleteKey, 13);
SLOT(OfxParameterSuiteV1, paramDeleteAllKeys, 14);
SLOT(OfxParameterSuiteV1, paramCopy, 15);
SLOT(OfxParameterSuiteV1, paramEditBegin, 16);
SLOT(OfxParameterSuiteV1, paramEditEnd, 17);
static_assert(sizeof(OfxParameterSuiteV1) == 18 * kPtr, "OfxParameterSuiteV1");

SLOT(OfxMemorySuiteV1, memoryAlloc, 0);
SLOT(OfxMemorySuiteV1, memoryFree, 1);
static_assert(sizeof(OfxMemorySuiteV1) == 2 * kPtr, "OfxMemorySuiteV1");

SLOT(OfxMessageSuiteV1, message, 0);
static_assert(sizeof(OfxMessageSuiteV1) == 1 * kPtr, "OfxMessageSuiteV1");
SLOT(OfxMessageSuiteV2, message, 0);
SLOT(OfxMessageSuiteV2, setPersistentMessage, 1);
SLOT(OfxMessageSuiteV2, clearPersistentMessage, 2);
static_assert(sizeof(OfxMessageSuiteV2) == 3 * kPtr, "OfxMessageSuiteV2");

SLOT(OfxMultiThreadSuiteV1, multiThread, 0);
SLOT(OfxMultiThreadSuiteV1, multiThreadNumCPUs, 1);
SLOT(OfxMultiThreadSuiteV1, multiThreadIndex, 2);
SLOT(OfxMultiThreadSuiteV1, multiThreadIsSpawnedThread, 3);
SLOT(OfxMultiThreadSuiteV1, mutexCreate, 4);
SLOT(OfxMultiThreadSuiteV1, mutexDestroy, 5);
SLOT(OfxMultiThreadSuiteV1, mutexLock, 6);
SLOT(OfxMultiThreadSuiteV1, mutexUnLock, 7);
SLOT(OfxMultiThreadSuiteV1, mutexTryLock, 8);
static_assert(sizeof(OfxMultiThreadSuiteV1) == 9 * kPtr, "OfxMultiThreadSuiteV1");

SLOT(OfxProgressSuiteV1, progressStart, 0);
SLOT(OfxProgressSuiteV1, progressUpdate, 1);
SLOT(OfxProgressSuiteV1, progressEnd, 2);
static_assert(sizeof(OfxProgressSuiteV1) == 3 * kPtr, "OfxProgressSuiteV1");
SLOT(OfxProgressSuiteV2, progressStart, 0);
SLOT(OfxProgressSuiteV2, progressUpdate, 1);
SLOT(OfxProgressSuiteV2, progressEnd, 2);
static_assert(sizeof(OfxProgressSuiteV2) == 3 * kPtr, "OfxProgressSuiteV2");

SLOT(OfxInteractSuiteV1, interactSwapBuffers, 0);
SLOT(OfxInteractSuiteV1, interactRedraw, 1);
SLOT(OfxInteractSuiteV1, interactGetPropertySet, 2);
static_assert(sizeof(OfxInteractSuiteV1) == 3 * kPtr, "OfxInteractSuiteV1");

SLOT(OfxTimeLineSuiteV1, getTime, 0);
SLOT(OfxTimeLineSuiteV1, gotoTime, 1);
SLOT(OfxTimeLineSuiteV1, getTimeBounds, 2);
static_assert(sizeof(OfxTimeLineSuiteV1) == 3 * kPtr, "OfxTimeLineSuiteV1");

// Status codes are numbers on the wire.
static_assert(kOfxStatOK == 0 && kOfxStatFailed == 1 && kOfxStatErrFatal == 2 && kOfxStatErrUnknown == 3, "stat");
static_assert(kOfxStatErrMissingHostFeature == 4 && kOfxStatErrUnsupported == 5 && kOfxStatErrExists == 6, "stat");
static_assert(kOfxStatErrFormat == 7 && kOfxStatErrMemory == 8 && kOfxStatErrBadHandle == 9, "stat");
static_assert(kOfxStatErrBadIndex == 10 && kOfxStatErrValue == 11 && kOfxStatReplyYes == 12, "stat");
static_assert(kOfxStatReplyNo == 13 && kOfxStatReplyDefault == 14 && kOfxStatErrImageFormat == 1000, "stat");
static_assert(kOfxFlagInfiniteMax == INT_MAX && kOfxFlagInfiniteMin == INT_MIN, "infinite flags");
static_assert(kOfxImageEffectPluginApiVersion == 1, "image effect API version");
static_assert(kOfxStatGPUOutOfMemory == 1001 && kOfxStatGLOutOfMemory == 1001, "GPU render stat");
static_assert(kOfxStatGPURenderFailed == 1002 && kOfxStatGLRenderFailed == 1002, "GPU render stat");

// The strings that differ from the identifier's spelling are the easy ones to get wrong; check them at run time.
namespace {
struct Spelling {
  const char *got;
  const char *want;
};
}  // namespace

int main() {
  const Spelling spellings[] = {
      {kOfxImageEffectPluginApi, "OfxImageEffectPluginAPI"},
      {kOfxImageEffectPropSupportsMultipleClipDepths, "OfxImageEffectPropMultipleClipDepths"},
      {kOfxImageEffectPropProjectPixelAspectRatio, "OfxImageEffectPropPixelAspectRatio"},
      {kOfxImagePreMultiplied, "OfxImageAlphaPremultiplied"},
      {kOfxImageUnPreMultiplied, "OfxImageAlphaUnPremultiplied"},
      {kOfxImageFieldNone, "OfxFieldNone"},
      {kOfxParamPropCustomInterpCallbackV1, "OfxParamPropCustomCallbackV1"},
      {kOfxParamPropUseHostOverlayHandle, "kOfxParamPropUseHostOverlayHandle"},
      {kOfxHostNativeOriginBottomLeft, "kOfxImageEffectHostPropNativeOriginBottomLeft"},
      {kOfxActionDescribeInteract, "OfxActionDescribe"},
      {kOfxImageEffectOutputClipName, "Output"},
      {kOfxImageEffectSimpleSourceClipName, "Source"},
      // ofxGPURender.h (OpenFX 1.5): every property a host and the plug-in exchange about GPU image memory
      {kOfxImageEffectPropCPURenderSupported, "OfxImageEffectPropCPURenderSupported"},
      {kOfxImageEffectPropOpenGLRenderSupported, "OfxImageEffectPropOpenGLRenderSupported"},
      {kOfxImageEffectPropOpenGLEnabled, "OfxImageEffectPropOpenGLEnabled"},
      {kOfxImageEffectPropCudaRenderSupported, "OfxImageEffectPropCudaRenderSupported"},
      {kOfxImageEffectPropCudaEnabled, "OfxImageEffectPropCudaEnabled"},
      {kOfxImageEffectPropCudaStreamSupported, "OfxImageEffectPropCudaStreamSupported"},
      {kOfxImageEffectPropCudaStream, "OfxImageEffectPropCudaStream"},
      {kOfxImageEffectPropMetalRenderSupported, "OfxImageEffectPropMetalRenderSupported"},
      {kOfxImageEffectPropMetalEnabled, "OfxImageEffectPropMetalEnabled"},
      {kOfxImageEffectPropMetalCommandQueue, "OfxImageEffectPropMetalCommandQueue"},
      {kOfxImageEffectPropOpenCLRenderSupported, "OfxImageEffectPropOpenCLRenderSupported"},
      {kOfxImageEffectPropOpenCLSupported, "OfxImageEffectPropOpenCLSupported"},
      {kOfxImageEffectPropOpenCLEnabled, "OfxImageEffectPropOpenCLEnabled"},
      {kOfxImageEffectPropOpenCLCommandQueue, "OfxImageEffectPropOpenCLCommandQueue"},
      {kOfxImageEffectPropOpenCLImage, "OfxImageEffectPropOpenCLImage"},
  };
  int failures = 0;
  for (const Spelling &s : spellings) {
    if (std::strcmp(s.got, s.want) != 0) {
      std::fprintf(stderr, "string value \"%s\", standard says \"%s\"\n", s.got, s.want);
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}
