/* OpenFX progress suite: a progress indicator an instance can raise, update (and learn of cancellation), close.
 * Chromaluma's own declarations from the OpenFX 1.4 standard. */
#ifndef _ofxProgressSuite_h_
#define _ofxProgressSuite_h_

#include "ofxCore.h"

#ifdef __cplusplus
extern "C" {
#endif

#define kOfxProgressSuite "OfxProgressSuite"

typedef struct OfxProgressSuiteV1 {
  OfxStatus (*progressStart)(void *effectInstance, const char *label);
  /* progress in [0, 1]; kOfxStatReplyNo means the user cancelled */
  OfxStatus (*progressUpdate)(void *effectInstance, double progress);
  OfxStatus (*progressEnd)(void *effectInstance);
} OfxProgressSuiteV1;

/* V2 adds a message id (for localisation overrides) to progressStart. */
typedef struct OfxProgressSuiteV2 {
  OfxStatus (*progressStart)(void *effectInstance, const char *message, const char *messageid);
  OfxStatus (*progressUpdate)(void *effectInstance, double progress);
  OfxStatus (*progressEnd)(void *effectInstance);
} OfxProgressSuiteV2;

#ifdef __cplusplus
}
#endif

#endif /* _ofxProgressSuite_h_ */
