// The fake host of fake_ofx_host.h. Only what the plug-in calls is implemented; everything else stays null, so a
// call the plug-in newly makes crashes the test instead of passing unnoticed.
#include "fake_ofx_host.h"

#include <cstdarg>
#include <cstdio>

#include "ofxMessage.h"
#include "ofxProperty.h"

namespace fakehost {
namespace {

Props* P(OfxPropertySetHandle h) { return reinterpret_cast<Props*>(h); }
Effect* E(const void* h) { return reinterpret_cast<Effect*>(const_cast<void*>(h)); }
Clip* C(OfxImageClipHandle h) { return reinterpret_cast<Clip*>(h); }
Param* Pa(OfxParamHandle h) { return reinterpret_cast<Param*>(h); }

template <class T>
void put(std::map<std::string, std::vector<T>>& map, const char* name, int index, T value) {
    std::vector<T>& v = map[name];
    if (v.size() <= static_cast<size_t>(index)) v.resize(static_cast<size_t>(index) + 1);
    v[static_cast<size_t>(index)] = value;
}

template <class T>
OfxStatus take(std::map<std::string, std::vector<T>>& map, const char* name, int index, T* value) {
    const auto it = map.find(name);
    if (it == map.end() || static_cast<size_t>(index) >= it->second.size()) return kOfxStatErrUnknown;
    *value = it->second[static_cast<size_t>(index)];
    return kOfxStatOK;
}

OfxStatus setPointer(OfxPropertySetHandle h, const char* n, int, void* v) { return P(h)->pointers[n] = v, kOfxStatOK; }
OfxStatus setString(OfxPropertySetHandle h, const char* n, int i, const char* v) {
    put(P(h)->strings, n, i, std::string(v)); return kOfxStatOK;
}
OfxStatus setDouble(OfxPropertySetHandle h, const char* n, int i, double v) { put(P(h)->doubles, n, i, v); return kOfxStatOK; }
OfxStatus setInt(OfxPropertySetHandle h, const char* n, int i, int v) { put(P(h)->ints, n, i, v); return kOfxStatOK; }
OfxStatus setDoubleN(OfxPropertySetHandle h, const char* n, int count, const double* v) {
    for (int i = 0; i < count; ++i) put(P(h)->doubles, n, i, v[i]);
    return kOfxStatOK;
}
OfxStatus getPointer(OfxPropertySetHandle h, const char* n, int, void** v) {
    const auto it = P(h)->pointers.find(n);
    if (it == P(h)->pointers.end()) return kOfxStatErrUnknown;
    *v = it->second;
    return kOfxStatOK;
}
OfxStatus getString(OfxPropertySetHandle h, const char* n, int i, char** v) {
    const auto it = P(h)->strings.find(n);
    if (it == P(h)->strings.end() || static_cast<size_t>(i) >= it->second.size()) return kOfxStatErrUnknown;
    *v = const_cast<char*>(it->second[static_cast<size_t>(i)].c_str());
    return kOfxStatOK;
}
OfxStatus getDouble(OfxPropertySetHandle h, const char* n, int i, double* v) { return take(P(h)->doubles, n, i, v); }
OfxStatus getInt(OfxPropertySetHandle h, const char* n, int i, int* v) { return take(P(h)->ints, n, i, v); }
OfxStatus getIntN(OfxPropertySetHandle h, const char* n, int count, int* v) {
    for (int i = 0; i < count; ++i)
        if (take(P(h)->ints, n, i, v + i) != kOfxStatOK) return kOfxStatErrUnknown;
    return kOfxStatOK;
}
OfxStatus getDoubleN(OfxPropertySetHandle h, const char* n, int count, double* v) {
    for (int i = 0; i < count; ++i)
        if (take(P(h)->doubles, n, i, v + i) != kOfxStatOK) return kOfxStatErrUnknown;
    return kOfxStatOK;
}

OfxStatus getPropertySet(OfxImageEffectHandle e, OfxPropertySetHandle* p) { return *p = E(e)->props.handle(), kOfxStatOK; }
OfxStatus getParamSet(OfxImageEffectHandle e, OfxParamSetHandle* s) {
    *s = reinterpret_cast<OfxParamSetHandle>(e);
    return kOfxStatOK;
}
OfxStatus clipDefine(OfxImageEffectHandle e, const char* name, OfxPropertySetHandle* p) {
    auto& clip = E(e)->clips[name];
    if (!clip) clip = std::make_unique<Clip>();
    *p = clip->props.handle();
    return kOfxStatOK;
}
OfxStatus clipGetHandle(OfxImageEffectHandle e, const char* name, OfxImageClipHandle* c, OfxPropertySetHandle* p) {
    const auto it = E(e)->clips.find(name);
    if (it == E(e)->clips.end()) return kOfxStatErrBadHandle;
    *c = reinterpret_cast<OfxImageClipHandle>(it->second.get());
    if (p != nullptr) *p = it->second->props.handle();
    return kOfxStatOK;
}
OfxStatus clipGetPropertySet(OfxImageClipHandle c, OfxPropertySetHandle* p) { return *p = C(c)->props.handle(), kOfxStatOK; }
OfxStatus clipGetImage(OfxImageClipHandle c, OfxTime time, const OfxRectD*, OfxPropertySetHandle* image) {
    Clip& clip = *C(c);
    {
        std::lock_guard<std::mutex> lock(host().mutex);
        clip.fetchedTimes.push_back(time);
    }
    if (clip.pixels.empty() || clip.missingAt.count(time) != 0) return kOfxStatFailed;
    const auto frame = clip.framePixels.find(time);
    auto* props = new Props;
    props->pointers[kOfxImagePropData] = frame != clip.framePixels.end() ? frame->second.data() : clip.pixels.data();
    props->ints[kOfxImagePropBounds] = {0, 0, clip.width - (clip.narrowAt.count(time) != 0 ? 1 : 0), clip.height};
    props->ints[kOfxImagePropRowBytes] = {clip.width * 4 * static_cast<int>(sizeof(float))};
    props->strings[kOfxImageEffectPropPixelDepth] = {clip.shortAt.count(time) != 0 ? kOfxBitDepthShort : clip.depth};
    props->strings[kOfxImageEffectPropComponents] = {clip.components};
    props->strings[kOfxImageEffectPropPreMultiplication] = {kOfxImagePreMultiplied};
    std::lock_guard<std::mutex> lock(host().mutex);
    ++host().imagesHeld;
    *image = props->handle();
    return kOfxStatOK;
}
OfxStatus clipReleaseImage(OfxPropertySetHandle image) {
    delete P(image);
    std::lock_guard<std::mutex> lock(host().mutex);
    --host().imagesHeld;
    return kOfxStatOK;
}
OfxStatus clipGetRegionOfDefinition(OfxImageClipHandle c, OfxTime, OfxRectD* rod) {
    *rod = OfxRectD{0, 0, double(C(c)->width), double(C(c)->height)};
    return kOfxStatOK;
}
int abortRender(OfxImageEffectHandle) {
    std::lock_guard<std::mutex> lock(host().mutex);
    ++host().abortCalls;
    return host().abortOnCall > 0 && host().abortCalls >= host().abortOnCall ? 1 : 0;
}

OfxStatus paramDefine(OfxParamSetHandle s, const char* type, const char* name, OfxPropertySetHandle* p) {
    auto& param = reinterpret_cast<Effect*>(s)->params[name];
    param = std::make_unique<Param>();
    param->type = type;
    if (p != nullptr) *p = param->props.handle();
    return kOfxStatOK;
}
OfxStatus paramGetHandle(OfxParamSetHandle s, const char* name, OfxParamHandle* h, OfxPropertySetHandle* p) {
    Effect* effect = reinterpret_cast<Effect*>(s);
    const auto it = effect->params.find(name);
    if (it == effect->params.end()) return kOfxStatErrUnknown;
    *h = reinterpret_cast<OfxParamHandle>(it->second.get());
    if (p != nullptr) *p = it->second->props.handle();
    return kOfxStatOK;
}
OfxStatus paramGetValueAtTime(OfxParamHandle h, OfxTime time, ...) {
    if (host().failParamReads) return kOfxStatErrUnknown;
    Param& param = *Pa(h);
    va_list args;
    va_start(args, time);
    if (param.type == kOfxParamTypeString) *va_arg(args, char**) = const_cast<char*>(param.text.c_str());
    else if (param.type == kOfxParamTypeDouble) *va_arg(args, double*) = param.number;
    else *va_arg(args, int*) = param.integer;
    va_end(args);
    return kOfxStatOK;
}
OfxStatus paramSetValue(OfxParamHandle h, ...) {
    Param& param = *Pa(h);
    {
        std::lock_guard<std::mutex> lock(host().mutex);
        if (host().action != kOfxActionInstanceChanged)
            host().writesOutsideInstanceChanged.push_back(param.props.strings[kOfxParamPropScriptName].at(0) +
                                                          " during " + host().action);
    }
    va_list args;
    va_start(args, h);
    if (param.type == kOfxParamTypeString) param.text = va_arg(args, const char*);
    else if (param.type == kOfxParamTypeDouble) param.number = va_arg(args, double);
    else param.integer = va_arg(args, int);
    va_end(args);
    return kOfxStatOK;
}

OfxStatus message(void*, const char*, const char*, const char*, ...) { return kOfxStatOK; }
OfxStatus setPersistentMessage(void* h, const char* type, const char*, const char* format, ...) {
    char text[4096];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    std::lock_guard<std::mutex> lock(host().mutex);
    E(h)->messageType = type;
    E(h)->message = text;
    return kOfxStatOK;
}
OfxStatus clearPersistentMessage(void* h) {
    std::lock_guard<std::mutex> lock(host().mutex);
    E(h)->messageType.clear();
    E(h)->message.clear();
    return kOfxStatOK;
}

const void* fetchSuite(OfxPropertySetHandle, const char* name, int version) {
    static const OfxPropertySuiteV1 property = [] {
        OfxPropertySuiteV1 s{};
        s.propSetPointer = setPointer;
        s.propSetString = setString;
        s.propSetDouble = setDouble;
        s.propSetInt = setInt;
        s.propSetDoubleN = setDoubleN;
        s.propGetPointer = getPointer;
        s.propGetString = getString;
        s.propGetDouble = getDouble;
        s.propGetInt = getInt;
        s.propGetIntN = getIntN;
        s.propGetDoubleN = getDoubleN;
        return s;
    }();
    static const OfxImageEffectSuiteV1 effect = [] {
        OfxImageEffectSuiteV1 s{};
        s.getPropertySet = getPropertySet;
        s.getParamSet = getParamSet;
        s.clipDefine = clipDefine;
        s.clipGetHandle = clipGetHandle;
        s.clipGetPropertySet = clipGetPropertySet;
        s.clipGetImage = clipGetImage;
        s.clipReleaseImage = clipReleaseImage;
        s.clipGetRegionOfDefinition = clipGetRegionOfDefinition;
        s.abort = abortRender;
        return s;
    }();
    static const OfxParameterSuiteV1 param = [] {
        OfxParameterSuiteV1 s{};
        s.paramDefine = paramDefine;
        s.paramGetHandle = paramGetHandle;
        s.paramGetValueAtTime = paramGetValueAtTime;
        s.paramSetValue = paramSetValue;
        return s;
    }();
    static const OfxMessageSuiteV2 messages{message, setPersistentMessage, clearPersistentMessage};
    const std::string suite = name;
    if (suite == kOfxPropertySuite && version == 1) return &property;
    if (suite == kOfxImageEffectSuite && version == 1) return &effect;
    if (suite == kOfxParameterSuite && version == 1) return &param;
    if (suite == kOfxMessageSuite && (version == 1 || version == 2)) return &messages;  // V2 begins with V1
    return nullptr;
}

OfxHost theHost{nullptr, fetchSuite};

// Parameter values at the defaults the plug-in declared (what a host does before create instance).
void resetToDefaults(Effect& effect) {
    for (auto& [name, param] : effect.params) {
        Props& p = param->props;
        if (!p.strings[kOfxParamPropDefault].empty()) param->text = p.strings[kOfxParamPropDefault][0];
        if (!p.doubles[kOfxParamPropDefault].empty()) param->number = p.doubles[kOfxParamPropDefault][0];
        if (!p.ints[kOfxParamPropDefault].empty()) param->integer = p.ints[kOfxParamPropDefault][0];
    }
}

}  // namespace

Host& host() {
    static Host h;
    return h;
}

OfxStatus call(const char* action, Effect* effect, Props* inArgs, Props* outArgs) {
    {
        std::lock_guard<std::mutex> lock(host().mutex);
        host().action = action;
    }
    return OfxGetPlugin(0)->mainEntry(action, effect != nullptr ? effect->handle() : nullptr,
                                      inArgs != nullptr ? inArgs->handle() : nullptr,
                                      outArgs != nullptr ? outArgs->handle() : nullptr);
}

std::unique_ptr<Effect> describedEffect(const char* context, int width, int height) {
    static const bool loaded = [] {
        OfxGetPlugin(0)->setHost(&theHost);
        return call(kOfxActionLoad, nullptr) == kOfxStatOK;
    }();
    if (!loaded) return nullptr;
    auto effect = std::make_unique<Effect>();
    if (call(kOfxActionDescribe, effect.get()) != kOfxStatOK) return nullptr;
    Props in;
    in.strings[kOfxImageEffectPropContext] = {context};
    if (call(kOfxImageEffectActionDescribeInContext, effect.get(), &in) != kOfxStatOK) return nullptr;
    resetToDefaults(*effect);
    effect->props.pointers[kOfxPropInstanceData] = nullptr;
    for (auto& [name, clip] : effect->clips) {
        const bool connected = name != "Mask";
        clip->props.ints[kOfxImageClipPropConnected] = {connected ? 1 : 0};
        clip->props.strings[kOfxImageEffectPropComponents] = {kOfxImageComponentRGBA};
        clip->props.strings[kOfxImageEffectPropPreMultiplication] = {kOfxImagePreMultiplied};
        clip->props.doubles[kOfxImagePropPixelAspectRatio] = {1.0};
        clip->width = width;
        clip->height = height;
        if (connected) clip->pixels.assign(static_cast<size_t>(width) * height * 4, 0.5f);
    }
    return effect;
}

OfxStatus changed(Effect& effect, const std::string& name, double time) {
    Props reason;
    reason.strings[kOfxPropChangeReason] = {kOfxChangeUserEdited};
    Props in = reason;
    in.strings[kOfxPropType] = {kOfxTypeParameter};
    in.strings[kOfxPropName] = {name};
    in.doubles[kOfxPropTime] = {time};
    in.doubles[kOfxImageEffectPropRenderScale] = {1.0, 1.0};
    call(kOfxActionBeginInstanceChanged, &effect, &reason);
    const OfxStatus status = call(kOfxActionInstanceChanged, &effect, &in);
    call(kOfxActionEndInstanceChanged, &effect, &reason);
    return status;
}

OfxStatus render(Effect& effect, double time) {
    const Clip& output = *effect.clips.at(kOfxImageEffectOutputClipName);
    return render(effect, time, OfxRectI{0, 0, output.width, output.height});
}

OfxStatus render(Effect& effect, double time, const OfxRectI& window) {
    Props in;
    in.doubles[kOfxPropTime] = {time};
    in.ints[kOfxImageEffectPropRenderWindow] = {window.x1, window.y1, window.x2, window.y2};
    in.doubles[kOfxImageEffectPropRenderScale] = {1.0, 1.0};
    in.strings[kOfxImageEffectPropFieldToRender] = {kOfxImageFieldNone};
    return call(kOfxImageEffectActionRender, &effect, &in);
}

void* instanceData(Effect& effect) { return effect.props.pointers[kOfxPropInstanceData]; }

OfxStatus framesNeeded(Effect& effect, double time, std::vector<double>& range) {
    Props in, out;
    in.doubles[kOfxPropTime] = {time};
    const std::string name = std::string("OfxImageClipPropFrameRange_") + kOfxImageEffectSimpleSourceClipName;
    out.doubles[name] = {time, time};
    const OfxStatus status = call(kOfxImageEffectActionGetFramesNeeded, &effect, &in, &out);
    range = out.doubles[name];
    return status;
}

}  // namespace fakehost
