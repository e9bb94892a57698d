// OfxImageEffectSuiteV1 for ofx-render: property and parameter sets, clips, images and image memory.
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "Effect.h"

namespace ofxrender {

namespace {

std::mutex gImagesMutex;
std::map<PropertySet *, std::unique_ptr<ImageRef>> gImages;
thread_local const FetchAllowance *tAllowance = nullptr;
std::atomic<int> gRefused{0};

struct ImageMemory {
  static constexpr unsigned kMagic = 0x1a6e3e30u;
  unsigned magic = kMagic;
  void *block = nullptr;
  int locks = 0;
};

OfxStatus getPropertySet(OfxImageEffectHandle h, OfxPropertySetHandle *props) {
  Effect *e = Effect::from(h);
  if (e == nullptr || props == nullptr) return kOfxStatErrBadHandle;
  *props = e->props.handle();
  return kOfxStatOK;
}

OfxStatus getParamSet(OfxImageEffectHandle h, OfxParamSetHandle *params) {
  Effect *e = Effect::from(h);
  if (e == nullptr || params == nullptr) return kOfxStatErrBadHandle;
  *params = e->params.handle();
  return kOfxStatOK;
}

OfxStatus clipDefine(OfxImageEffectHandle h, const char *name, OfxPropertySetHandle *props) {
  Effect *e = Effect::from(h);
  if (e == nullptr || name == nullptr) return kOfxStatErrBadHandle;
  if (e->kind == Effect::Kind::Instance) {
    std::fprintf(stderr, "ofx-render: plug-in called clipDefine(\"%s\") on an instance\n", name);
    return kOfxStatErrBadHandle;
  }
  if (e->findClip(name) != nullptr) return kOfxStatErrExists;
  e->clips.push_back(std::make_unique<Clip>(name, e, e->props.what()));
  if (props != nullptr) *props = e->clips.back()->props.handle();
  return kOfxStatOK;
}

OfxStatus clipGetHandle(OfxImageEffectHandle h, const char *name, OfxImageClipHandle *clip,
                        OfxPropertySetHandle *props) {
  Effect *e = Effect::from(h);
  if (e == nullptr || name == nullptr) return kOfxStatErrBadHandle;
  if (e->kind != Effect::Kind::Instance) {
    std::fprintf(stderr, "ofx-render: plug-in called clipGetHandle(\"%s\") on a descriptor\n", name);
    return kOfxStatErrBadHandle;
  }
  Clip *c = e->findClip(name);
  if (c == nullptr) return kOfxStatErrUnknown;
  if (clip != nullptr) *clip = c->handle();
  if (props != nullptr) *props = c->props.handle();
  return kOfxStatOK;
}

OfxStatus clipGetPropertySet(OfxImageClipHandle h, OfxPropertySetHandle *props) {
  Clip *c = Clip::from(h);
  if (c == nullptr || props == nullptr) return kOfxStatErrBadHandle;
  *props = c->props.handle();
  return kOfxStatOK;
}

void describeImage(ImageRef &ref, const Clip &clip, double time, double scale) {
  PropertySet &p = ref.props;
  HostImage &img = *ref.pixels;
  const OfxRectI &b = img.bounds();
  p.defineStrings(kOfxPropType, {kOfxTypeImage});
  p.defineStrings(kOfxImageEffectPropPixelDepth, {ofxDepthName(img.depth())});
  p.defineStrings(kOfxImageEffectPropComponents, {ofxComponentsName(img.components())});
  p.defineStrings(kOfxImageEffectPropPreMultiplication,
                  {clip.props.getString(kOfxImageEffectPropPreMultiplication, 0, kOfxImagePreMultiplied)});
  p.defineDoubles(kOfxImageEffectPropRenderScale, {scale, scale});
  p.defineDoubles(kOfxImagePropPixelAspectRatio, {1.0});
  p.definePointers(kOfxImagePropData, {img.data()});
  p.defineInts(kOfxImagePropBounds, {b.x1, b.y1, b.x2, b.y2});
  p.defineInts(kOfxImagePropRegionOfDefinition, {b.x1, b.y1, b.x2, b.y2});
  p.defineInts(kOfxImagePropRowBytes, {static_cast<int>(img.rowBytes())});
  p.defineStrings(kOfxImagePropField, {kOfxImageFieldNone});
  p.defineStrings(kOfxImagePropUniqueIdentifier, {clip.name + "@" + std::to_string(time)});
}

OfxStatus clipGetImage(OfxImageClipHandle h, OfxTime time, const OfxRectD *, OfxPropertySetHandle *image) {
  Clip *c = Clip::from(h);
  if (c == nullptr || image == nullptr || c->effect->frames == nullptr) return kOfxStatErrBadHandle;
  if (tAllowance != nullptr && !tAllowance->permits(c->name, time)) {
    ++gRefused;
    std::fprintf(stderr, "ofx-render: refused clipGetImage(%s, time %g) during the render of frame %g: the plug-in did "
                 "not ask for that frame in kOfxImageEffectActionGetFramesNeeded (it asked for %s)\n", c->name.c_str(),
                 time, tAllowance->time, tAllowance->describe(c->name).c_str());
    return kOfxStatFailed;
  }
  std::shared_ptr<HostImage> pixels = c->effect->frames->image(c->name, time);
  if (!pixels) return kOfxStatFailed;  // unconnected clip, or no frame at that time
  auto ref = std::make_unique<ImageRef>("image of clip " + c->name);
  ref->pixels = std::move(pixels);
  describeImage(*ref, *c, time, c->effect->frames->renderScale());
  *image = ref->props.handle();
  std::lock_guard<std::mutex> lock(gImagesMutex);
  gImages[&ref->props] = std::move(ref);
  return kOfxStatOK;
}

OfxStatus clipReleaseImage(OfxPropertySetHandle h) {
  std::lock_guard<std::mutex> lock(gImagesMutex);
  auto it = gImages.find(PropertySet::from(h));
  if (it == gImages.end()) return kOfxStatErrBadHandle;
  gImages.erase(it);
  return kOfxStatOK;
}

OfxStatus clipGetRegionOfDefinition(OfxImageClipHandle h, OfxTime time, OfxRectD *bounds) {
  Clip *c = Clip::from(h);
  if (c == nullptr || bounds == nullptr || c->effect->frames == nullptr) return kOfxStatErrBadHandle;
  *bounds = c->effect->frames->regionOfDefinition(c->name, time);
  return kOfxStatOK;
}

int abortRender(OfxImageEffectHandle h) {
  Effect *e = Effect::from(h);
  return (e != nullptr && e->frames != nullptr && e->frames->aborted()) ? 1 : 0;
}

OfxStatus imageMemoryAlloc(OfxImageEffectHandle, size_t nBytes, OfxImageMemoryHandle *handle) {
  if (handle == nullptr) return kOfxStatErrBadHandle;
  auto *mem = new ImageMemory;
  mem->block = std::aligned_alloc(16, (nBytes + 15) / 16 * 16 + 16);
  if (mem->block == nullptr) {
    delete mem;
    *handle = nullptr;
    return kOfxStatErrMemory;
  }
  *handle = reinterpret_cast<OfxImageMemoryHandle>(mem);
  return kOfxStatOK;
}

ImageMemory *memoryFrom(OfxImageMemoryHandle h) {
  auto *mem = reinterpret_cast<ImageMemory *>(h);
  return (mem != nullptr && mem->magic == ImageMemory::kMagic) ? mem : nullptr;
}

OfxStatus imageMemoryFree(OfxImageMemoryHandle h) {
  ImageMemory *mem = memoryFrom(h);
  if (mem == nullptr) return kOfxStatErrBadHandle;
  std::free(mem->block);
  mem->magic = 0;
  delete mem;
  return kOfxStatOK;
}

OfxStatus imageMemoryLock(OfxImageMemoryHandle h, void **ptr) {
  ImageMemory *mem = memoryFrom(h);
  if (mem == nullptr || ptr == nullptr) return kOfxStatErrBadHandle;
  ++mem->locks;
  *ptr = mem->block;
  return kOfxStatOK;
}

OfxStatus imageMemoryUnlock(OfxImageMemoryHandle h) {
  ImageMemory *mem = memoryFrom(h);
  if (mem == nullptr) return kOfxStatErrBadHandle;
  if (mem->locks > 0) --mem->locks;
  return kOfxStatOK;
}

const OfxImageEffectSuiteV1 kImageEffectSuite = {
    getPropertySet,   getParamSet,     clipDefine,      clipGetHandle,     clipGetPropertySet,
    clipGetImage,     clipReleaseImage, clipGetRegionOfDefinition, abortRender, imageMemoryAlloc,
    imageMemoryFree,  imageMemoryLock, imageMemoryUnlock,
};

}  // namespace

const OfxImageEffectSuiteV1 *imageEffectSuite() { return &kImageEffectSuite; }

bool FetchAllowance::permits(const std::string &clip, double at) const {
  if (at == time) return true;
  const auto it = ranges.find(clip);
  if (it == ranges.end()) return false;
  for (const auto &[first, last] : it->second) {
    if (at >= first && at <= last) return true;
  }
  return false;
}

std::string FetchAllowance::describe(const std::string &clip) const {
  char text[64];
  std::snprintf(text, sizeof text, "[%g, %g]", time, time);
  const auto it = ranges.find(clip);
  if (it == ranges.end()) return text;
  std::string out;
  for (const auto &[first, last] : it->second) {
    std::snprintf(text, sizeof text, "[%g, %g]", first, last);
    out += (out.empty() ? "" : " ") + std::string(text);
  }
  return out;
}

void setFetchAllowance(const FetchAllowance *allowance) { tAllowance = allowance; }

int refusedFetches() { return gRefused; }

int outstandingImages() {
  std::lock_guard<std::mutex> lock(gImagesMutex);
  return static_cast<int>(gImages.size());
}

}  // namespace ofxrender
