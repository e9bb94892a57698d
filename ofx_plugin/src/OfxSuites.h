// The host's suites and small typed helpers over the property and parameter suites.
//
// Plug-in code never calls a suite member through a null pointer: fetchSuites() at kOfxActionLoad names what
// the host lacks, and the plug-in refuses to load with kOfxStatErrMissingHostFeature instead of crashing later.
#pragma once

#include <initializer_list>
#include <stdexcept>
#include <string>

#include "ImageView.h"
#include "ofxImageEffect.h"
#include "ofxMessage.h"
#include "ofxParam.h"
#include "ofxProperty.h"

namespace chromaluma::ofx {

struct Suites {
    OfxHost* host = nullptr;
    const OfxPropertySuiteV1* property = nullptr;
    const OfxImageEffectSuiteV1* effect = nullptr;
    const OfxParameterSuiteV1* param = nullptr;
    const OfxMessageSuiteV2* message = nullptr;     // persistent messages (optional in old hosts)
    const OfxMessageSuiteV1* messageV1 = nullptr;   // fallback: plain messages
};

Suites& suites();

// Fetch every suite the plug-in uses; on failure returns false and names the missing suite in `missing`.
bool fetchSuites(std::string& missing);

// A failed OFX call, carrying its status, so an action can return it after showing a message.
class OfxError : public std::runtime_error {
public:
    OfxError(OfxStatus status, const std::string& what) : std::runtime_error(what), status_(status) {}
    OfxStatus status() const { return status_; }

private:
    OfxStatus status_;
};

void check(OfxStatus status, const char* what);  // throws OfxError unless status is kOfxStatOK

// Property getters: return `fallback` when the property is absent (hosts differ in what they set).
std::string getString(OfxPropertySetHandle props, const char* name, int index = 0, const std::string& fallback = {});
int getInt(OfxPropertySetHandle props, const char* name, int index = 0, int fallback = 0);
double getDouble(OfxPropertySetHandle props, const char* name, int index = 0, double fallback = 0.0);
void* getPointer(OfxPropertySetHandle props, const char* name, int index = 0);
Rect getRectI(OfxPropertySetHandle props, const char* name);  // throws when absent
OfxRectD getRectD(OfxPropertySetHandle props, const char* name);

// Property setters: throw OfxError when the host refuses.
void setString(OfxPropertySetHandle props, const char* name, const std::string& value, int index = 0);
void setStrings(OfxPropertySetHandle props, const char* name, std::initializer_list<const char*> values);
void setInt(OfxPropertySetHandle props, const char* name, int value, int index = 0);
void setDouble(OfxPropertySetHandle props, const char* name, double value, int index = 0);
void setPointer(OfxPropertySetHandle props, const char* name, void* value);
void setRectD(OfxPropertySetHandle props, const char* name, const OfxRectD& rect);

BitDepth depthFromString(const std::string& depth);     // BitDepth::None for anything we do not render
int componentCount(const std::string& components);     // 0 for anything we do not render

// Messages on an effect instance. Persistent messages fall back to a plain message on hosts without V2.
void setPersistentMessage(OfxImageEffectHandle effect, const char* type, const std::string& text);
void clearPersistentMessage(OfxImageEffectHandle effect);

}  // namespace chromaluma::ofx
