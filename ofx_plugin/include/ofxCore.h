/* OpenFX core architecture: host/plug-in bootstrap, actions, general properties, status codes.
 * Chromaluma's own declarations, written from the published OpenFX 1.4 standard (with the 1.5 OfxSetHost
 * entry point). Identifiers, string values, numeric values and struct layouts follow the standard exactly so that
 * the plug-in is binary compatible with hosts built on the official SDK. */
#ifndef _ofxCore_h_
#define _ofxCore_h_

#include <stddef.h> /* size_t */
#include <limits.h> /* INT_MIN, INT_MAX */

#ifdef __cplusplus
extern "C" {
#endif

/* Storage class for the symbols a plug-in binary exports. */
#if defined(WIN32) || defined(WIN64)
#define OfxExport extern __declspec(dllexport)
#else
#define OfxExport extern
#endif

/* Opaque handle to a set of named, typed properties. */
typedef struct OfxPropertySetStruct *OfxPropertySetHandle;

/* Result of every OFX call; see the kOfxStat* codes below. */
typedef int OfxStatus;

/* What the host hands to a plug-in: its own property set and the suite fetcher. */
typedef struct OfxHost {
  OfxPropertySetHandle host;
  const void *(*fetchSuite)(OfxPropertySetHandle host, const char *suiteName, int suiteVersion);
} OfxHost;

/* The single entry point through which a host sends every action to a plug-in. */
typedef OfxStatus(OfxPluginEntryPoint)(const char *action, const void *handle, OfxPropertySetHandle inArgs,
                                       OfxPropertySetHandle outArgs);

/* What a plug-in binary describes about each plug-in it contains. */
typedef struct OfxPlugin {
  const char *pluginApi;           /* e.g. kOfxImageEffectPluginApi */
  int apiVersion;                  /* version of pluginApi implemented */
  const char *pluginIdentifier;    /* reverse-domain unique id */
  unsigned int pluginVersionMajor; /* bumped when compatibility breaks */
  unsigned int pluginVersionMinor; /* bumped for compatible changes */
  void (*setHost)(OfxHost *host);  /* first call the host makes */
  OfxPluginEntryPoint *mainEntry;  /* receives all actions */
} OfxPlugin;

/* Generic actions (string values are what the host passes as `action`). */
#define kOfxActionLoad "OfxActionLoad"
#define kOfxActionDescribe "OfxActionDescribe"
#define kOfxActionUnload "OfxActionUnload"
#define kOfxActionPurgeCaches "OfxActionPurgeCaches"
#define kOfxActionSyncPrivateData "OfxActionSyncPrivateData"
#define kOfxActionCreateInstance "OfxActionCreateInstance"
#define kOfxActionDestroyInstance "OfxActionDestroyInstance"
#define kOfxActionInstanceChanged "OfxActionInstanceChanged"
#define kOfxActionBeginInstanceChanged "OfxActionBeginInstanceChanged"
#define kOfxActionEndInstanceChanged "OfxActionEndInstanceChanged"
#define kOfxActionBeginInstanceEdit "OfxActionBeginInstanceEdit"
#define kOfxActionEndInstanceEdit "OfxActionEndInstanceEdit"

/* Functions every plug-in binary exports. */
OfxExport OfxPlugin *OfxGetPlugin(int nth);
OfxExport int OfxGetNumberOfPlugins(void);
/* OpenFX 1.5: optional module-level host hand-off, called (when exported) before OfxGetNumberOfPlugins. */
OfxExport OfxStatus OfxSetHost(const OfxHost *host);

/* General properties. */
#define kOfxPropAPIVersion "OfxPropAPIVersion"
#define kOfxPropTime "OfxPropTime"
#define kOfxPropIsInteractive "OfxPropIsInteractive"
#define kOfxPluginPropFilePath "OfxPluginPropFilePath"
#define kOfxPropInstanceData "OfxPropInstanceData"
#define kOfxPropType "OfxPropType"
#define kOfxPropName "OfxPropName"
#define kOfxPropVersion "OfxPropVersion"
#define kOfxPropVersionLabel "OfxPropVersionLabel"
#define kOfxPropPluginDescription "OfxPropPluginDescription"
#define kOfxPropLabel "OfxPropLabel"
#define kOfxPropIcon "OfxPropIcon"
#define kOfxPropShortLabel "OfxPropShortLabel"
#define kOfxPropLongLabel "OfxPropLongLabel"
#define kOfxPropChangeReason "OfxPropChangeReason"
#define kOfxPropEffectInstance "OfxPropEffectInstance"
#define kOfxPropHostOSHandle "OfxPropHostOSHandle"

/* Values of kOfxPropChangeReason. */
#define kOfxChangeUserEdited "OfxChangeUserEdited"
#define kOfxChangePluginEdited "OfxChangePluginEdited"
#define kOfxChangeTime "OfxChangeTime"

/* Time, in frames. */
typedef double OfxTime;

/* Inclusive numeric ranges. */
typedef struct OfxRangeI {
  int min, max;
} OfxRangeI;

typedef struct OfxRangeD {
  double min, max;
} OfxRangeD;

/* Two-dimensional points. */
typedef struct OfxPointI {
  int x, y;
} OfxPointI;

typedef struct OfxPointD {
  double x, y;
} OfxPointD;

/* Markers for unbounded rectangles: minimums set to ...Min, maximums to ...Max. */
#define kOfxFlagInfiniteMax INT_MAX
#define kOfxFlagInfiniteMin INT_MIN

/* Half-open rectangles: x1 <= x < x2, y1 <= y < y2. */
typedef struct OfxRectI {
  int x1, y1, x2, y2;
} OfxRectI;

typedef struct OfxRectD {
  double x1, y1, x2, y2;
} OfxRectD;

/* Sample types of a pixel component. */
#define kOfxBitDepthNone "OfxBitDepthNone"
#define kOfxBitDepthByte "OfxBitDepthByte"
#define kOfxBitDepthShort "OfxBitDepthShort"
#define kOfxBitDepthHalf "OfxBitDepthHalf"
#define kOfxBitDepthFloat "OfxBitDepthFloat"

/* General status codes (1..999). */
#define kOfxStatOK 0
#define kOfxStatFailed ((int)1)
#define kOfxStatErrFatal ((int)2)
#define kOfxStatErrUnknown ((int)3)
#define kOfxStatErrMissingHostFeature ((int)4)
#define kOfxStatErrUnsupported ((int)5)
#define kOfxStatErrExists ((int)6)
#define kOfxStatErrFormat ((int)7)
#define kOfxStatErrMemory ((int)8)
#define kOfxStatErrBadHandle ((int)9)
#define kOfxStatErrBadIndex ((int)10)
#define kOfxStatErrValue ((int)11)
#define kOfxStatReplyYes ((int)12)
#define kOfxStatReplyNo ((int)13)
#define kOfxStatReplyDefault ((int)14)

#ifdef __cplusplus
}
#endif

#endif /* _ofxCore_h_ */
