// Parsing ofx-render's command line.
#include "Options.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace ofxrender {

const char *usageText() {
  return "usage: ofx-render --plugin-path DIR [--plugin-path DIR ...] --list\n"
         "       ofx-render --plugin-path DIR --plugin ID --input PATTERN --output PATTERN [options]\n"
         "  --plugin-path DIR       search DIR (recursively) for *.ofx.bundle; default $OFX_PLUGIN_PATH (':'-separated)\n"
         "  --list                  print identifier, version, label, contexts and bundle of each plug-in\n"
         "  --plugin ID             the effect to apply\n"
         "  --context filter|general  (default filter)\n"
         "  --param NAME=VALUE      set a parameter (repeatable); typed by the parameter: double, int, bool\n"
         "                          (0/1/true/false), choice (index or option label), string\n"
         "  --input PATTERN         source frames, .png/.tif/.tiff, frame as #### or %04d\n"
         "  --output PATTERN        output frames (.png: 8-bit for byte depth, else 16-bit; .tif: host depth)\n"
         "  --mask PATTERN          frames for the mask clip (grey, or the alpha of RGBA files)\n"
         "  --mask-clip NAME        clip the mask feeds (default Mask)\n"
         "  --frames A-B            frame range, inclusive (default 1-1); a single N means N-N\n"
         "  --input-frames A-B      frames the input sequences hold: the Source and mask clips' frame range, which\n"
         "                          a temporal effect may read around the rendered frames (default: --frames)\n"
         "  --frame-order forward|reverse  order in which frames are handed out for rendering (default forward)\n"
         "  --depth float|short|byte  host pixel depth (default float)\n"
         "  --components RGBA|RGB   host components of Source (default RGBA)\n"
         "  --threads N             N concurrent render calls on different frames, within the plug-in's\n"
         "                          declared render thread safety (default 1)\n"
         "  --rowbytes-padding B    B extra bytes at the end of every image row\n"
         "  --negative-rowbytes     rows stored top-down, negative rowBytes (data still at bottom-left)\n"
         "  --origin X,Y            pixel bounds start at (X,Y) instead of (0,0)\n"
         "  --render-scale S        proxy render at scale S in (0,1] (nearest-neighbour input); a plug-in that\n"
         "                          declares kOfxImageEffectPropSupportsMultiResolution=0 renders at scale 1\n"
         "  --timing                JSON lines on stdout: one per frame, then a summary\n"
         "  --print-params          JSON lines on stdout: every parameter's value after the instance-changed\n"
         "                          actions of --param, and again after the renders (one line per instance; its\n"
         "                          \"group\" is the --instances number K it renders for)\n"
         "  --allow-missing         missing suites/properties are notes, not a failure\n"
         "  --instances N           N independent instances of the effect (K = 0..N-1), each rendering every frame;\n"
         "                          renders of all instances interleave (frame by frame) on the --threads workers\n"
         "                          (default 1). Every instance takes the --param values first\n"
         "  --instance-param K:NAME=VALUE  set a parameter of instance K only, after --param (repeatable)\n"
         "  --instance-output K:PATTERN    output frames of instance K >= 1 (required for each; instance 0 writes\n"
         "                          --output)\n"
         "  --discard-output        render every frame and convert it for writing, but write no file (soaks of frames\n"
         "                          too large to keep); --output and --instance-output are then optional\n"
         "  --memory-log FILE       JSON lines: the process's resident memory (VmRSS, KiB) after setup and after\n"
         "                          every render, with the number of renders done, the frame and the instance\n"
         "  --cuda-render           offer CUDA render as an OpenFX 1.5 host: kOfxImageEffectPropCudaEnabled=1 in\n"
         "                          render only for a plug-in that declared kOfxImageEffectPropCudaRenderSupported\n"
         "                          \"true\"/\"needed\". No GPU is used: the images are always CPU memory\n"
         "  --force-cuda-enabled    set kOfxImageEffectPropCudaEnabled=1 whatever the plug-in declared (breaks the\n"
         "                          standard on purpose: tests a plug-in's refusal; images still CPU memory)\n"
         "exit status: 0 all frames rendered; 1-100 that many frames failed (capped; with --instances, renders of a\n"
         "             frame on an instance); 120 bad command line;\n"
         "             121 plug-in setup failed; 122 the plug-in needed a suite/property this host lacks\n";
}

namespace {

int toInt(const std::string &s, const char *flag) {
  std::size_t used = 0;
  const int v = std::stoi(s, &used);
  if (used != s.size()) throw std::invalid_argument(std::string(flag) + ": not an integer: " + s);
  return v;
}

// "K:REST" of the --instance-* flags: the instance number and the rest.
std::pair<int, std::string> splitInstance(const std::string &value, const char *flag, const char *form) {
  const std::size_t colon = value.find(':');
  if (colon == std::string::npos || colon == 0) {
    throw std::invalid_argument(std::string(flag) + " needs " + form + ": " + value);
  }
  const int instance = toInt(value.substr(0, colon), flag);
  if (instance < 0) throw std::invalid_argument(std::string(flag) + ": instance numbers start at 0: " + value);
  return {instance, value.substr(colon + 1)};
}

void parseFrames(const std::string &value, int &first, int &last, const char *flag) {
  const std::size_t dash = value.find('-', 1);
  first = toInt(value.substr(0, dash), flag);
  last = dash == std::string::npos ? first : toInt(value.substr(dash + 1), flag);
  if (last < first) throw std::invalid_argument(std::string(flag) + ": last frame before first");
}

void parseValueFlag(const std::string &flag, const std::string &value, Options &o) {
  if (flag == "--plugin-path") {
    o.pluginPaths.push_back(value);
  } else if (flag == "--plugin") {
    o.pluginId = value;
  } else if (flag == "--context") {
    if (value != "filter" && value != "general") throw std::invalid_argument("--context must be filter or general");
    o.context = value;
  } else if (flag == "--param") {
    const std::size_t eq = value.find('=');
    if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--param needs NAME=VALUE: " + value);
    o.params.emplace_back(value.substr(0, eq), value.substr(eq + 1));
  } else if (flag == "--instances") {
    o.instances = toInt(value, "--instances");
    if (o.instances < 1) throw std::invalid_argument("--instances must be at least 1");
  } else if (flag == "--instance-param") {
    const auto [instance, setting] = splitInstance(value, "--instance-param", "K:NAME=VALUE");
    const std::size_t eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw std::invalid_argument("--instance-param needs K:NAME=VALUE: " + value);
    }
    o.instanceParams.push_back({instance, setting.substr(0, eq), setting.substr(eq + 1)});
  } else if (flag == "--instance-output") {
    const auto [instance, pattern] = splitInstance(value, "--instance-output", "K:PATTERN");
    if (instance == 0) throw std::invalid_argument("--instance-output 0: instance 0 writes --output");
    if (pattern.empty()) throw std::invalid_argument("--instance-output needs K:PATTERN: " + value);
    o.instanceOutputs[instance] = pattern;
  } else if (flag == "--memory-log") {
    o.memoryLog = value;
  } else if (flag == "--input") {
    o.input = value;
  } else if (flag == "--output") {
    o.output = value;
  } else if (flag == "--mask") {
    o.mask = value;
  } else if (flag == "--mask-clip") {
    o.maskClip = value;
  } else if (flag == "--frames") {
    parseFrames(value, o.firstFrame, o.lastFrame, "--frames");
  } else if (flag == "--input-frames") {
    parseFrames(value, o.inputFirst, o.inputLast, "--input-frames");
    o.inputFramesGiven = true;
  } else if (flag == "--frame-order") {
    if (value != "forward" && value != "reverse") throw std::invalid_argument("--frame-order must be forward or reverse");
    o.reverseOrder = value == "reverse";
  } else if (flag == "--depth") {
    if (value == "float") o.depth = Depth::Float;
    else if (value == "short") o.depth = Depth::Short;
    else if (value == "byte") o.depth = Depth::Byte;
    else throw std::invalid_argument("--depth must be float, short or byte");
  } else if (flag == "--components") {
    if (value != "RGBA" && value != "RGB") throw std::invalid_argument("--components must be RGBA or RGB");
    o.components = value == "RGBA" ? 4 : 3;
  } else if (flag == "--threads") {
    o.threads = toInt(value, "--threads");
    if (o.threads < 1) throw std::invalid_argument("--threads must be at least 1");
  } else if (flag == "--rowbytes-padding") {
    o.layout.rowPadding = toInt(value, "--rowbytes-padding");
    if (o.layout.rowPadding < 0) throw std::invalid_argument("--rowbytes-padding must be >= 0");
  } else if (flag == "--origin") {
    const std::size_t comma = value.find(',');
    if (comma == std::string::npos) throw std::invalid_argument("--origin needs X,Y");
    o.originX = toInt(value.substr(0, comma), "--origin");
    o.originY = toInt(value.substr(comma + 1), "--origin");
  } else if (flag == "--render-scale") {
    o.renderScale = std::stod(value);
    if (!(o.renderScale > 0.0 && o.renderScale <= 1.0)) throw std::invalid_argument("--render-scale must be in (0,1]");
  } else {
    throw std::invalid_argument("unknown option " + flag);
  }
}

bool parseSwitch(const std::string &flag, Options &o) {
  if (flag == "--list") o.list = true;
  else if (flag == "--negative-rowbytes") o.layout.negativeRowBytes = true;
  else if (flag == "--timing") o.timing = true;
  else if (flag == "--print-params") o.printParams = true;
  else if (flag == "--allow-missing") o.allowMissing = true;
  else if (flag == "--discard-output") o.discardOutput = true;
  else if (flag == "--cuda-render") o.cudaRender = true;
  else if (flag == "--force-cuda-enabled") o.forceCudaEnabled = true;
  else return false;
  return true;
}

void checkComplete(Options &o) {
  if (o.pluginPaths.empty()) {
    const char *env = std::getenv("OFX_PLUGIN_PATH");
    std::string paths = env != nullptr ? env : "";
    for (std::size_t start = 0; start < paths.size();) {
      const std::size_t colon = paths.find(':', start);
      const std::string one = paths.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!one.empty()) o.pluginPaths.push_back(one);
      start = colon == std::string::npos ? paths.size() : colon + 1;
    }
  }
  if (o.pluginPaths.empty()) throw std::invalid_argument("no --plugin-path given and OFX_PLUGIN_PATH is not set");
  if (!o.inputFramesGiven) {
    o.inputFirst = o.firstFrame;
    o.inputLast = o.lastFrame;
  } else if (o.firstFrame < o.inputFirst || o.lastFrame > o.inputLast) {
    throw std::invalid_argument("--frames " + std::to_string(o.firstFrame) + "-" + std::to_string(o.lastFrame) +
                                " lies outside --input-frames " + std::to_string(o.inputFirst) + "-" +
                                std::to_string(o.inputLast) + ": the input sequence must hold every rendered frame");
  }
  if (o.list) return;
  if (o.pluginId.empty()) throw std::invalid_argument("--plugin ID is required (or --list)");
  if (o.input.empty() || (o.output.empty() && !o.discardOutput)) {
    throw std::invalid_argument("--input and --output (or --discard-output) are required");
  }
  for (const Options::InstanceParam &p : o.instanceParams) {
    if (p.instance >= o.instances) {
      throw std::invalid_argument("--instance-param " + std::to_string(p.instance) + ":" + p.name +
                                  ": there are only " + std::to_string(o.instances) +
                                  " instance(s) (--instances N; numbered from 0)");
    }
  }
  for (const auto &[instance, pattern] : o.instanceOutputs) {
    if (instance >= o.instances) {
      throw std::invalid_argument("--instance-output " + std::to_string(instance) + ": there are only " +
                                  std::to_string(o.instances) + " instance(s) (--instances N; numbered from 0)");
    }
  }
  for (int instance = 1; instance < o.instances && !o.discardOutput; ++instance) {
    if (o.instanceOutputs.count(instance) == 0) {
      throw std::invalid_argument("--instances " + std::to_string(o.instances) + ": instance " +
                                  std::to_string(instance) + " needs --instance-output " + std::to_string(instance) +
                                  ":PATTERN (instance 0 writes --output)");
    }
  }
}

}  // namespace

bool parseOptions(int argc, char **argv, Options &options, std::string &error, bool &help) {
  help = false;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string flag = argv[i];
      if (flag == "--help" || flag == "-h") {
        help = true;
        return false;
      }
      std::string value;
      const std::size_t eq = flag.find('=');
      const bool inlineValue = flag.rfind("--", 0) == 0 && eq != std::string::npos && flag.rfind("--param", 0) != 0;
      if (inlineValue) {
        value = flag.substr(eq + 1);
        flag = flag.substr(0, eq);
      } else if (parseSwitch(flag, options)) {
        continue;
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        throw std::invalid_argument(flag + " needs a value");
      }
      parseValueFlag(flag, value, options);
    }
    checkComplete(options);
    return true;
  } catch (const std::exception &e) {
    error = e.what();
    return false;
  }
}

const std::string &Options::outputFor(int instance) const {
  const auto it = instanceOutputs.find(instance);
  return it != instanceOutputs.end() ? it->second : output;
}

std::string framePath(const std::string &pattern, int frame) {
  const std::size_t hash = pattern.find('#');
  if (hash != std::string::npos) {
    std::size_t end = hash;
    while (end < pattern.size() && pattern[end] == '#') ++end;
    std::string number = std::to_string(frame);
    if (number.size() < end - hash) number.insert(0, end - hash - number.size(), '0');
    return pattern.substr(0, hash) + number + pattern.substr(end);
  }
  const std::size_t percent = pattern.find('%');
  if (percent != std::string::npos) {
    std::size_t end = pattern.find('d', percent);
    bool digits = end != std::string::npos;
    for (std::size_t i = percent + 1; digits && i < end; ++i) digits = pattern[i] >= '0' && pattern[i] <= '9';
    if (digits) {
      const std::string spec = pattern.substr(percent, end - percent + 1);
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, spec.c_str(), frame);
      return pattern.substr(0, percent) + buffer + pattern.substr(end + 1);
    }
  }
  return pattern;  // one file for every frame
}

}  // namespace ofxrender
