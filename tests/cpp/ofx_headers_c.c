/* The OpenFX declarations must compile as plain C (C99, -Wall -Wextra -Werror -pedantic): hosts and plug-ins
 * written in C include them too. Building this target is the test; running it checks one layout from C's side. */
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

#include <stddef.h>

int main(void) {
  /* same expectation as the C++ test, computed by the C compiler */
  return (offsetof(OfxPlugin, mainEntry) == 40 && sizeof(OfxImageEffectSuiteV1) == 104) ? 0 : 1;
}
