// Finding and loading OFX bundles the way real hosts do: *.ofx.bundle/Contents/Linux-x86-64/*.ofx opened with
// dlopen(RTLD_NOW | RTLD_LOCAL), OfxSetHost (when exported), then OfxGetNumberOfPlugins / OfxGetPlugin.
#pragma once

#include <string>
#include <vector>

#include "PropertySet.h"
#include "ofxCore.h"

namespace ofxrender {

struct LoadedPlugin {
  OfxPlugin *plugin = nullptr;
  std::string bundlePath;
  std::string binaryPath;
  std::string identifier() const { return plugin->pluginIdentifier != nullptr ? plugin->pluginIdentifier : ""; }
};

// Loads every binary found under `searchPaths` (each searched recursively); problems go to `errors`.
std::vector<LoadedPlugin> loadBundles(const std::vector<std::string> &searchPaths, std::vector<std::string> &errors);

// Calls the plug-in's main entry; a null property set is passed as NULL.
OfxStatus callAction(const LoadedPlugin &p, const char *action, const void *handle, PropertySet *inArgs,
                     PropertySet *outArgs);

const char *statusName(OfxStatus status);

}  // namespace ofxrender
