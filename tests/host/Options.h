// ofx-render's command line.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "Pixels.h"

namespace ofxrender {

// Exit statuses other than "number of failed frames" (1..100).
constexpr int kExitUsage = 120;
constexpr int kExitPluginSetup = 121;  // not found, failed to load/describe/instantiate, unknown param
constexpr int kExitHostGap = 122;      // the plug-in needed a suite or property this host lacks

struct Options {
  std::vector<std::string> pluginPaths;
  bool list = false;
  std::string pluginId;
  std::string context = "filter";
  std::vector<std::pair<std::string, std::string>> params;
  std::string input, output, mask;
  std::string maskClip = "Mask";
  int firstFrame = 1, lastFrame = 1;
  Depth depth = Depth::Float;
  int components = 4;
  int threads = 1;
  MemoryLayout layout;
  int originX = 0, originY = 0;
  double renderScale = 1.0;
  bool timing = false;
  bool printParams = false;
  bool allowMissing = false;
};

// Returns false with a message in `error` on a bad command line; `help` is set for --help.
bool parseOptions(int argc, char **argv, Options &options, std::string &error, bool &help);
const char *usageText();
// "shot.####.tif" or "shot.%04d.tif" with the frame number substituted.
std::string framePath(const std::string &pattern, int frame);

}  // namespace ofxrender
