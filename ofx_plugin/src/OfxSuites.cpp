#include "OfxSuites.h"

namespace chromaluma::ofx {

Suites& suites() {
    static Suites instance;
    return instance;
}

bool fetchSuites(std::string& missing) {
    Suites& s = suites();
    if (s.host == nullptr || s.host->fetchSuite == nullptr) {
        missing = "OfxHost (setHost was not called)";
        return false;
    }
    auto fetch = [&s](const char* name, int version) { return s.host->fetchSuite(s.host->host, name, version); };
    s.property = static_cast<const OfxPropertySuiteV1*>(fetch(kOfxPropertySuite, 1));
    s.effect = static_cast<const OfxImageEffectSuiteV1*>(fetch(kOfxImageEffectSuite, 1));
    s.param = static_cast<const OfxParameterSuiteV1*>(fetch(kOfxParameterSuite, 1));
    s.message = static_cast<const OfxMessageSuiteV2*>(fetch(kOfxMessageSuite, 2));
    s.messageV1 = static_cast<const OfxMessageSuiteV1*>(fetch(kOfxMessageSuite, 1));
    if (s.property == nullptr) missing = kOfxPropertySuite " V1";
    else if (s.effect == nullptr) missing = kOfxImageEffectSuite " V1";
    else if (s.param == nullptr) missing = kOfxParameterSuite " V1";
    return missing.empty();
}

void check(OfxStatus status, const char* what) {
    if (status != kOfxStatOK) throw OfxError(status, std::string(what) + " failed (OFX status " +
                                                         std::to_string(status) + ")");
}

std::string getString(OfxPropertySetHandle props, const char* name, int index, const std::string& fallback) {
    char* value = nullptr;
    if (suites().property->propGetString(props, name, index, &value) != kOfxStatOK || value == nullptr) return fallback;
    return value;
}

int getInt(OfxPropertySetHandle props, const char* name, int index, int fallback) {
    int value = fallback;
    return suites().property->propGetInt(props, name, index, &value) == kOfxStatOK ? value : fallback;
}

double getDouble(OfxPropertySetHandle props, const char* name, int index, double fallback) {
    double value = fallback;
    return suites().property->propGetDouble(props, name, index, &value) == kOfxStatOK ? value : fallback;
}

void* getPointer(OfxPropertySetHandle props, const char* name, int index) {
    void* value = nullptr;
    return suites().property->propGetPointer(props, name, index, &value) == kOfxStatOK ? value : nullptr;
}

Rect getRectI(OfxPropertySetHandle props, const char* name) {
    int v[4] = {0, 0, 0, 0};
    check(suites().property->propGetIntN(props, name, 4, v), name);
    return Rect{v[0], v[1], v[2], v[3]};
}

OfxRectD getRectD(OfxPropertySetHandle props, const char* name) {
    double v[4] = {0, 0, 0, 0};
    check(suites().property->propGetDoubleN(props, name, 4, v), name);
    return OfxRectD{v[0], v[1], v[2], v[3]};
}

void setString(OfxPropertySetHandle props, const char* name, const std::string& value, int index) {
    check(suites().property->propSetString(props, name, index, value.c_str()), name);
}

void setStrings(OfxPropertySetHandle props, const char* name, std::initializer_list<const char*> values) {
    int index = 0;
    for (const char* value : values) check(suites().property->propSetString(props, name, index++, value), name);
}

void setInt(OfxPropertySetHandle props, const char* name, int value, int index) {
    check(suites().property->propSetInt(props, name, index, value), name);
}

void setDouble(OfxPropertySetHandle props, const char* name, double value, int index) {
    check(suites().property->propSetDouble(props, name, index, value), name);
}

void setPointer(OfxPropertySetHandle props, const char* name, void* value) {
    check(suites().property->propSetPointer(props, name, 0, value), name);
}

void setRectD(OfxPropertySetHandle props, const char* name, const OfxRectD& rect) {
    const double v[4] = {rect.x1, rect.y1, rect.x2, rect.y2};
    check(suites().property->propSetDoubleN(props, name, 4, v), name);
}

BitDepth depthFromString(const std::string& depth) {
    if (depth == kOfxBitDepthFloat) return BitDepth::Float;
    if (depth == kOfxBitDepthShort) return BitDepth::Short;
    if (depth == kOfxBitDepthByte) return BitDepth::Byte;
    return BitDepth::None;
}

int componentCount(const std::string& components) {
    if (components == kOfxImageComponentRGBA) return 4;
    if (components == kOfxImageComponentRGB) return 3;
    if (components == kOfxImageComponentAlpha) return 1;
    return 0;
}

void setPersistentMessage(OfxImageEffectHandle effect, const char* type, const std::string& text) {
    const Suites& s = suites();
    if (s.message != nullptr && s.message->setPersistentMessage != nullptr) {
        s.message->setPersistentMessage(effect, type, "", "%s", text.c_str());
    } else if (s.messageV1 != nullptr && s.messageV1->message != nullptr) {
        s.messageV1->message(effect, type, "", "%s", text.c_str());
    }
}

void clearPersistentMessage(OfxImageEffectHandle effect) {
    const Suites& s = suites();
    if (s.message != nullptr && s.message->clearPersistentMessage != nullptr) s.message->clearPersistentMessage(effect);
}

}  // namespace chromaluma::ofx
