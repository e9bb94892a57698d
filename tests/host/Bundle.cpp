// Bundle discovery and loading for ofx-render.
#include "Bundle.h"

#include <dlfcn.h>

#include <filesystem>

#include "HostSuites.h"
#include "ofxImageEffect.h"

namespace fs = std::filesystem;

namespace ofxrender {

namespace {

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<fs::path> findBundles(const std::string &root) {
  std::vector<fs::path> bundles;
  std::error_code ec;
  if (endsWith(fs::path(root).filename().string(), ".ofx.bundle")) return {fs::path(root)};
  for (fs::recursive_directory_iterator it(root, fs::directory_options::follow_directory_symlink, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_directory() && endsWith(it->path().filename().string(), ".ofx.bundle")) {
      bundles.push_back(it->path());
      it.disable_recursion_pending();
    }
  }
  return bundles;
}

using GetNumberFn = int (*)();
using GetPluginFn = OfxPlugin *(*)(int);
using SetHostFn = OfxStatus (*)(const OfxHost *);

void loadBinary(const fs::path &bundle, const fs::path &binary, std::vector<LoadedPlugin> &out,
                std::vector<std::string> &errors) {
  void *lib = dlopen(binary.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    errors.push_back(std::string("cannot load ") + binary.string() + ": " + dlerror());
    return;
  }
  auto count = reinterpret_cast<GetNumberFn>(dlsym(lib, "OfxGetNumberOfPlugins"));
  auto get = reinterpret_cast<GetPluginFn>(dlsym(lib, "OfxGetPlugin"));
  if (count == nullptr || get == nullptr) {
    errors.push_back(binary.string() + " does not export OfxGetNumberOfPlugins and OfxGetPlugin");
    return;  // never dlclose: a plug-in may have started threads or an interpreter
  }
  if (auto setHost = reinterpret_cast<SetHostFn>(dlsym(lib, "OfxSetHost"))) {
    const OfxStatus st = setHost(ofxHost());
    if (st != kOfxStatOK) {
      errors.push_back(binary.string() + ": OfxSetHost returned " + statusName(st));
      return;
    }
  }
  const int n = count();
  for (int i = 0; i < n; ++i) {
    OfxPlugin *plugin = get(i);
    if (plugin == nullptr || plugin->pluginApi == nullptr || plugin->mainEntry == nullptr) {
      errors.push_back(binary.string() + ": OfxGetPlugin(" + std::to_string(i) + ") is incomplete");
      continue;
    }
    if (std::string(plugin->pluginApi) != kOfxImageEffectPluginApi) continue;  // not an image effect
    out.push_back({plugin, bundle.string(), binary.string()});
  }
}

}  // namespace

std::vector<LoadedPlugin> loadBundles(const std::vector<std::string> &searchPaths, std::vector<std::string> &errors) {
  std::vector<LoadedPlugin> plugins;
  for (const std::string &root : searchPaths) {
    for (const fs::path &bundle : findBundles(root)) {
      const fs::path arch = bundle / "Contents" / "Linux-x86-64";
      std::error_code ec;
      for (fs::directory_iterator it(arch, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() == ".ofx") loadBinary(bundle, it->path(), plugins, errors);
      }
    }
  }
  return plugins;
}

OfxStatus callAction(const LoadedPlugin &p, const char *action, const void *handle, PropertySet *inArgs,
                     PropertySet *outArgs) {
  return p.plugin->mainEntry(action, handle, inArgs != nullptr ? inArgs->handle() : nullptr,
                             outArgs != nullptr ? outArgs->handle() : nullptr);
}

const char *statusName(OfxStatus status) {
  static const char *const kNames[] = {"kOfxStatOK",          "kOfxStatFailed",        "kOfxStatErrFatal",
                                       "kOfxStatErrUnknown",  "kOfxStatErrMissingHostFeature",
                                       "kOfxStatErrUnsupported", "kOfxStatErrExists",  "kOfxStatErrFormat",
                                       "kOfxStatErrMemory",   "kOfxStatErrBadHandle",  "kOfxStatErrBadIndex",
                                       "kOfxStatErrValue",    "kOfxStatReplyYes",      "kOfxStatReplyNo",
                                       "kOfxStatReplyDefault"};
  if (status >= 0 && status <= kOfxStatReplyDefault) return kNames[status];
  if (status == kOfxStatErrImageFormat) return "kOfxStatErrImageFormat";
  return "unknown status";
}

}  // namespace ofxrender
