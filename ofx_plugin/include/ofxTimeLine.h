/* OpenFX time line suite: read and move the host time line controlling an instance.
 * Chromaluma's own declarations from the OpenFX 1.4 standard. */
#ifndef _ofxTimeLine_h_
#define _ofxTimeLine_h_

#include "ofxCore.h"

#ifdef __cplusplus
extern "C" {
#endif

#define kOfxTimeLineSuite "OfxTimeLineSuite"

typedef struct OfxTimeLineSuiteV1 {
  OfxStatus (*getTime)(void *instance, double *time);
  OfxStatus (*gotoTime)(void *instance, double time);
  OfxStatus (*getTimeBounds)(void *instance, double *firstTime, double *lastTime);
} OfxTimeLineSuiteV1;

#ifdef __cplusplus
}
#endif

#endif /* _ofxTimeLine_h_ */
