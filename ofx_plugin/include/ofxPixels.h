/* OpenFX pixel structs: interleaved RGBA and RGB pixels per sample type.
 * Chromaluma's own declarations from the OpenFX 1.4 standard. */
#ifndef _ofxPixels_h_
#define _ofxPixels_h_

#ifdef __cplusplus
extern "C" {
#endif

typedef struct OfxRGBAColourB {
  unsigned char r, g, b, a;
} OfxRGBAColourB;

typedef struct OfxRGBAColourS {
  unsigned short r, g, b, a;
} OfxRGBAColourS;

typedef struct OfxRGBAColourF {
  float r, g, b, a;
} OfxRGBAColourF;

typedef struct OfxRGBAColourD {
  double r, g, b, a;
} OfxRGBAColourD;

typedef struct OfxRGBColourB {
  unsigned char r, g, b;
} OfxRGBColourB;

typedef struct OfxRGBColourS {
  unsigned short r, g, b;
} OfxRGBColourS;

typedef struct OfxRGBColourF {
  float r, g, b;
} OfxRGBColourF;

typedef struct OfxRGBColourD {
  double r, g, b;
} OfxRGBColourD;

#ifdef __cplusplus
}
#endif

#endif /* _ofxPixels_h_ */
