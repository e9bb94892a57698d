/* OpenFX GPU rendering: the properties by which a host and an effect agree that images are GPU memory (CUDA,
 * Metal, OpenCL) or OpenGL textures instead of CPU memory, and the GPU render statuses. Chromaluma's own
 * declarations from the OpenFX 1.5 standard (CUDA, Metal and OpenCL rendering were added in 1.5; CPU render
 * support in 1.5.1). Only properties and statuses are declared: Chromaluma uses no GPU suite (the OpenGL render
 * suite and the OpenCL program suite are not declared here).
 *
 * The agreement, for each kind K of GPU memory:
 *   describe:  the host's descriptor and the effect's descriptor each say kOfxImageEffectPropKRenderSupported
 *              "false" (the default), "true" or "needed" (effects only: cannot render without it);
 *   render:    only when both said "true" (or "needed") MAY the host set kOfxImageEffectPropKEnabled = 1 in the
 *              render action's inArgs; then kOfxImagePropData of every image of every clip is K memory, not CPU
 *              memory. Absent or 0: CPU memory.
 *   CUDA:      kOfxImageEffectPropCudaStream (a cudaStream_t) is set in render's inArgs only when both also said
 *              kOfxImageEffectPropCudaStreamSupported "true"; then the effect enqueues its work on that stream and
 *              does not wait for it. */
#ifndef _ofxGPURender_h_
#define _ofxGPURender_h_

#include "ofxCore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Status returns of a GPU render: out of GPU memory (the host may free GPU resources and retry), or a GPU render
 * that failed otherwise (the host should retry it without GPU rendering). The GL names are the older spellings of
 * the same values. */
#define kOfxStatGPUOutOfMemory ((int)1001)
#define kOfxStatGLOutOfMemory ((int)1001)
#define kOfxStatGPURenderFailed ((int)1002)
#define kOfxStatGLRenderFailed ((int)1002)

/* Host and effect descriptors, enum "false" | "true" (effects also "needed"), since 1.5.1: whether CPU rendering
 * is supported at all. */
#define kOfxImageEffectPropCPURenderSupported "OfxImageEffectPropCPURenderSupported"

/* OpenGL textures: descriptors' "false" | "true" | "needed", and render's int flag. */
#define kOfxImageEffectPropOpenGLRenderSupported "OfxImageEffectPropOpenGLRenderSupported"
#define kOfxImageEffectPropOpenGLEnabled "OfxImageEffectPropOpenGLEnabled"

/* CUDA device memory (1.5). */
#define kOfxImageEffectPropCudaRenderSupported "OfxImageEffectPropCudaRenderSupported"
/* render inArgs, int: 1 = every image's kOfxImagePropData is a CUDA device pointer */
#define kOfxImageEffectPropCudaEnabled "OfxImageEffectPropCudaEnabled"
#define kOfxImageEffectPropCudaStreamSupported "OfxImageEffectPropCudaStreamSupported"
/* render inArgs, pointer: the cudaStream_t to enqueue on (set only when both support streams) */
#define kOfxImageEffectPropCudaStream "OfxImageEffectPropCudaStream"

/* Apple Metal buffers (1.5). */
#define kOfxImageEffectPropMetalRenderSupported "OfxImageEffectPropMetalRenderSupported"
#define kOfxImageEffectPropMetalEnabled "OfxImageEffectPropMetalEnabled"
#define kOfxImageEffectPropMetalCommandQueue "OfxImageEffectPropMetalCommandQueue"

/* OpenCL buffers ("RenderSupported") or images ("Supported"), 1.5. */
#define kOfxImageEffectPropOpenCLRenderSupported "OfxImageEffectPropOpenCLRenderSupported"
#define kOfxImageEffectPropOpenCLSupported "OfxImageEffectPropOpenCLSupported"
#define kOfxImageEffectPropOpenCLEnabled "OfxImageEffectPropOpenCLEnabled"
#define kOfxImageEffectPropOpenCLCommandQueue "OfxImageEffectPropOpenCLCommandQueue"
#define kOfxImageEffectPropOpenCLImage "OfxImageEffectPropOpenCLImage"

#ifdef __cplusplus
}
#endif

#endif /* _ofxGPURender_h_ */
