/* The C interface of the Python bridge module, Contents/Linux-x86-64/ChromalumaPython.so (PyBridge.cpp).
 *
 * Chromaluma.ofx never links libpython: a host must be able to load and list the effect on a machine where the
 * Python environment is missing or moved. Backend.cpp (in Chromaluma.ofx) first locates the environment, makes
 * that Python's libpython global (dlopen RTLD_GLOBAL, or the host's own when it already runs Python), and only then
 * dlopens this module, whose Py* references resolve against it (like a Python extension module's).
 *
 * Plain C across the boundary: no C++ type and no exception crosses it. Every function catches everything and
 * reports through a ChromalumaBridgeResult; texts are handed to the caller's callback, never owned across calls.
 * Threading: start() is called once; it leaves the GIL released. describe() and process() may be called from any
 * thread, concurrently; each takes the GIL for its duration (ONNX Runtime releases it while it computes). */
#ifndef CHROMALUMA_PYBRIDGE_H
#define CHROMALUMA_PYBRIDGE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct or signature below changes: the plug-in refuses a bridge of another version. */
#define CHROMALUMA_BRIDGE_ABI_VERSION 6

/* The most keyframes a RenderReport lists that the bridge hands back (a keyframe model reads 2). */
#define CHROMALUMA_BRIDGE_MAX_KEYFRAMES 4

enum ChromalumaBridgeStatus {
    kChromalumaBridgeOk = 0,
    kChromalumaBridgeEnvironmentError = 1, /* Python could not start or chromaluma could not be imported */
    kChromalumaBridgePythonError = 2,      /* an unexpected Python exception (traceback printed to stderr) */
    kChromalumaBridgeChromalumaError = 3,  /* a chromaluma.errors.ChromalumaError: its message names the fix */
    kChromalumaBridgeNotStarted = 4
};

enum ChromalumaBridgeText {
    kChromalumaBridgeErrorType = 0,    /* Python exception type name */
    kChromalumaBridgeErrorMessage = 1, /* str(exception), or what went wrong starting Python */
    kChromalumaBridgeProvider = 2,     /* RenderReport.provider */
    kChromalumaBridgeSummary = 3,      /* RenderReport.model_summary */
    kChromalumaBridgeWarning = 4,      /* one of RenderReport.warnings (called once per warning) */
    kChromalumaBridgeKind = 5          /* RenderReport.kind ("chroma", "luma", "pairs", "keyframes", "repair") */
};

/* A top-down strided view of host memory (docs/CONTRACT.md §1.1); becomes a numpy view, never copied. */
typedef struct ChromalumaBridgeArray {
    unsigned char* first; /* top-left pixel's first component */
    int height, width, components;
    ptrdiff_t rowStride, pixelStride, componentStride; /* bytes */
    int bytesPerComponent;                             /* 1: uint8, 2: uint16, 4: float32 */
    int writable;
} ChromalumaBridgeArray;

/* The scalar entries of `params` (docs/CONTRACT.md §1.4). Strings are UTF-8, never NULL. */
typedef struct ChromalumaBridgeParams {
    const char* model;
    double mix;
    const char* device;     /* "auto" | "gpu" | "cpu" */
    int tileSize;
    const char* outputMode; /* "restored" | "confidence" | "difference" | "matte" */
    int premultiplied;
    int windowX, windowY;   /* dst's top-left inside src */
    int originX, originY;   /* src's top-left inside the frame (top-down) */
    /* A keyframe model's folder form (docs/CONTRACT.md §1.7): `keyframes` empty = no params["keyframes"];
     * otherwise params["keyframes"] = keyframes, params["frame"] = frame, and params["frame_size"] =
     * (frameWidth, frameHeight) when both are > 0. The folder is read by Python only. */
    const char* keyframes;
    int frame;
    int frameWidth, frameHeight;
    double sensitivity;     /* params["sensitivity"], always passed (0-1; models without a damage matte ignore it) */
    const char* precision;  /* params["precision"], always passed: "fp32" | "fp16" (checked against fp32 on load) */
    /* The Render Log (docs/CONTRACT.md §1.4): `renderLog` empty = neither params["render_log"] nor
     * params["host_render"]; otherwise params["render_log"] = renderLog and params["host_render"] = {"host": {"name",
     * "label", "version" (list of hostVersionCount ints), "version_label"}, "plugin": {"identifier", "version"
     * ("major.minor"), "bridge_abi"}, "time", "render_window" [x1, y1, x2, y2], "render_scale" [x, y]}. */
    const char* renderLog;
    const char* hostName;         /* kOfxPropName of the host descriptor ("" when the host sets none) */
    const char* hostLabel;        /* kOfxPropLabel */
    const char* hostVersionLabel; /* kOfxPropVersionLabel */
    const int* hostVersion;       /* kOfxPropVersion, hostVersionCount ints (NULL when 0) */
    int hostVersionCount;
    const char* plugin;           /* the plug-in's identifier */
    int pluginVersionMajor, pluginVersionMinor;
    double time;                  /* kOfxPropTime of the render */
    int renderWindow[4];          /* kOfxImageEffectPropRenderWindow: x1, y1, x2, y2 (OFX pixels, bottom-up) */
    double renderScale[2];        /* kOfxImageEffectPropRenderScale */
} ChromalumaBridgeParams;

/* Filled by the bridge from the RenderReport process() returns (docs/CONTRACT.md §1.5). `text` (set by the
 * caller) receives every string result; it must not throw. The numbers are always filled by describe() (from the
 * model's metadata when a test backend returns no report); process() fills them when its backend reports. */
typedef struct ChromalumaBridgeResult {
    void* context;
    void (*text)(void* context, int which, const char* value);
    int receptiveField;           /* chromaluma.receptive_field */
    double processingScale;       /* chromaluma.processing_scale */
    int framesBefore, framesAfter; /* the model's temporal window: frames read before/after the one restored */
    /* RenderReport.keyframes and .keyframe_distances (frame - keyframe frame), in the report's order: the
     * keyframes a keyframe model used (folder form); keyframeCount 0 when the report lists none. */
    int keyframeCount;
    int keyframeFrames[CHROMALUMA_BRIDGE_MAX_KEYFRAMES];
    int keyframeDistances[CHROMALUMA_BRIDGE_MAX_KEYFRAMES];
    int hasMatte; /* RenderReport.has_matte: 1 for a damage-repair model (0 when the report has no such field) */
} ChromalumaBridgeResult;

/* How to start: `python` is the environment's executable (empty when only the host's interpreter is known);
 * `sitePackages` is added to sys.path when the host's interpreter is used; `backendOverride` ("file.py:function"
 * or "module:function", may be empty) replaces chromaluma.api.process (tests). */
typedef struct ChromalumaBridgeStart {
    const char* python;
    const char* sitePackages;
    const char* backendOverride;
} ChromalumaBridgeStart;

typedef int (*ChromalumaBridgeAbiFn)(void);
typedef int (*ChromalumaBridgeStartFn)(const ChromalumaBridgeStart*, ChromalumaBridgeResult*);
typedef int (*ChromalumaBridgeDescribeFn)(const ChromalumaBridgeParams*, ChromalumaBridgeResult*);
typedef int (*ChromalumaBridgeProcessFn)(const ChromalumaBridgeArray* src, const ChromalumaBridgeArray* dst,
                                         const ChromalumaBridgeArray* mask, const ChromalumaBridgeArray* neighbours,
                                         int neighbourCount, const ChromalumaBridgeParams*, ChromalumaBridgeResult*);

/* The module's exported symbols (names used with dlsym). */
int chromaluma_bridge_abi(void);
/* Starts (or attaches to the host's) interpreter and imports the backend; once per process. */
int chromaluma_bridge_start(const ChromalumaBridgeStart* start, ChromalumaBridgeResult* result);
/* process(None, None, params): load and validate the model, report it, its receptive field and its temporal window;
 * render nothing. */
int chromaluma_bridge_describe(const ChromalumaBridgeParams* params, ChromalumaBridgeResult* result);
/* process(src, dst, params); `mask` may be NULL. `neighbours` holds `neighbourCount` entries (NULL when 0), in the
 * window's order t-before ... t-1, t+1 ... t+after, and becomes params["neighbours"]: an entry whose `first` is
 * NULL stands for "no frame at that time" (Python None; the backend's edge rule fills it). Every entry views host
 * memory that stays valid for the duration of the call only. */
int chromaluma_bridge_process(const ChromalumaBridgeArray* src, const ChromalumaBridgeArray* dst,
                              const ChromalumaBridgeArray* mask, const ChromalumaBridgeArray* neighbours,
                              int neighbourCount, const ChromalumaBridgeParams* params,
                              ChromalumaBridgeResult* result);

#ifdef __cplusplus
}
#endif

#endif /* CHROMALUMA_PYBRIDGE_H */
