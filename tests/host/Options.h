// ofx-render's command line.
#pragma once

#include <map>
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
  // --input-frames A-B: the frames the input sequences hold (the input clips' frame range, which a temporal effect
  // may read beyond the rendered frames); --frames when not given.
  int inputFirst = 1, inputLast = 1;
  bool inputFramesGiven = false;
  bool reverseOrder = false;  // --frame-order reverse: render the last frame first (results must not depend on it)
  Depth depth = Depth::Float;
  int components = 4;
  int threads = 1;
  MemoryLayout layout;
  int originX = 0, originY = 0;
  double renderScale = 1.0;
  bool timing = false;
  bool printParams = false;
  bool allowMissing = false;
  // --instances N: N independent effect instances (numbered 0..N-1) render every frame, interleaved across one
  // pool of --threads workers; instance K takes --param, then its own --instance-param K:NAME=VALUE, and writes
  // --output (K = 0) or --instance-output K:PATTERN.
  int instances = 1;
  struct InstanceParam {
    int instance;
    std::string name, value;
  };
  std::vector<InstanceParam> instanceParams;
  std::map<int, std::string> instanceOutputs;
  bool discardOutput = false;  // render (and convert) every frame but write no file: soaks of large frames
  std::string memoryLog;  // --memory-log FILE: resident memory after setup and after every render, JSON lines
  // --cuda-render: act as an OpenFX 1.5 host offering CUDA render (kOfxImageEffectPropCudaRenderSupported "true")
  // and set kOfxImageEffectPropCudaEnabled = 1 in render's inArgs only for a plug-in that declared "true" or
  // "needed" (the standard's rule). There is no GPU here: the images stay CPU memory even then, so the flag tests
  // the agreement, not device memory. No CUDA stream is offered.
  bool cudaRender = false;
  // --force-cuda-enabled: set kOfxImageEffectPropCudaEnabled = 1 whatever the plug-in declared (breaks the rule on
  // purpose, to test that a plug-in which said "false" refuses; the images are still CPU memory).
  bool forceCudaEnabled = false;
  // The output pattern instance K writes.
  const std::string &outputFor(int instance) const;
};

// Returns false with a message in `error` on a bad command line; `help` is set for --help.
bool parseOptions(int argc, char **argv, Options &options, std::string &error, bool &help);
const char *usageText();
// "shot.####.tif" or "shot.%04d.tif" with the frame number substituted.
std::string framePath(const std::string &pattern, int frame);

}  // namespace ofxrender
