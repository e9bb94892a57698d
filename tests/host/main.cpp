// ofx-render: a headless OpenFX host for tests and benchmarks. Loads bundles like real hosts, drives one effect
// through the OFX life cycle and renders a frame range of image files. See usageText() for the command line.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "HostSuites.h"
#include "Session.h"

using namespace ofxrender;

namespace {

int listPlugins(const std::vector<LoadedPlugin> &plugins, const Options &options) {
  for (const LoadedPlugin &p : plugins) {
    Session session(p, options);
    const bool described = session.describe();
    std::string contexts;
    for (const std::string &c : session.contexts()) {
      contexts += (contexts.empty() ? "" : ",") + c.substr(c.find("Context") + 7);
    }
    std::printf("%s\t%u.%u\t%s\t%s\t%s\n", p.identifier().c_str(), p.plugin->pluginVersionMajor,
                p.plugin->pluginVersionMinor, described ? session.label().c_str() : "(describe failed)",
                contexts.c_str(), p.bundlePath.c_str());
  }
  return 0;
}

struct RenderTally {
  std::atomic<int> nextFrame{0};
  std::atomic<int> failed{0};
  std::mutex printMutex;
  std::mutex unsafeMutex;  // held around render calls of a plug-in that is not thread safe
  double renderMsTotal = 0.0;
};

void renderWorker(Session &session, Effect *instance, unsigned index, bool serialise, const Options &o,
                  RenderTally &tally) {
  for (int frame = tally.nextFrame++; frame <= o.lastFrame; frame = tally.nextFrame++) {
    const auto start = std::chrono::steady_clock::now();
    double renderMs = 0.0;
    std::string why;
    bool ok;
    {
      std::unique_lock<std::mutex> lock(tally.unsafeMutex, std::defer_lock);
      if (serialise) lock.lock();
      ok = session.renderFrame(instance, frame, renderMs, why);
    }
    const double totalMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::lock_guard<std::mutex> lock(tally.printMutex);
    tally.renderMsTotal += renderMs;
    if (!ok) {
      ++tally.failed;
      std::fprintf(stderr, "ofx-render: frame %d failed: %s\n", frame, why.c_str());
    }
    if (o.timing) {
      std::printf("{\"event\": \"frame\", \"frame\": %d, \"status\": \"%s\", \"render_ms\": %.3f, \"total_ms\": %.3f, "
                  "\"thread\": %u%s%s}\n",
                  frame, ok ? "ok" : "failed", renderMs, totalMs, index, ok ? "" : ", \"message\": ",
                  ok ? "" : jsonString(why).c_str());
      std::fflush(stdout);
    }
  }
}

// Instances per the plug-in's render thread safety: fully safe shares one, instance safe gets one per thread,
// unsafe shares one and renders one frame at a time. Empty when one could not be created (message printed).
std::vector<Effect *> createInstances(Session &session, unsigned workers) {
  Effect *first = session.createInstance();
  if (first == nullptr) return {};
  session.clipPreferences(first);
  std::vector<Effect *> instances{first};
  if (session.threadSafety() == kOfxImageEffectRenderInstanceSafe) {
    while (instances.size() < workers) {
      Effect *more = session.createInstance();
      if (more == nullptr) return {};
      instances.push_back(more);
    }
  }
  return instances;
}

// --print-params: one JSON line per instance with every parameter's value (`when`: after-instance-changed, or
// after-render).
void printParams(const std::vector<Effect *> &instances, const char *when) {
  for (std::size_t i = 0; i < instances.size(); ++i) {
    std::printf("{\"event\": \"params\", \"when\": \"%s\", \"instance\": %zu, \"values\": %s}\n", when, i,
                paramValuesJson(*instances[i]).c_str());
  }
  std::fflush(stdout);
}

// Returns the number of failed frames, or -1 when the plug-in could not be set up.
int renderFrames(const LoadedPlugin &plugin, const Options &o) {
  const auto start = std::chrono::steady_clock::now();
  Session session(plugin, o);
  if (!session.describe()) return -1;
  setTimeLineBounds(o.firstFrame, o.lastFrame);
  const std::string safety = session.threadSafety();
  const unsigned workers = static_cast<unsigned>(std::min(o.threads, o.lastFrame - o.firstFrame + 1));
  const std::vector<Effect *> instances = createInstances(session, workers);
  if (instances.empty()) return -1;
  if (o.printParams) printParams(instances, "after-instance-changed");
  const bool sequential = workers == 1;
  for (Effect *e : instances) {
    const OfxStatus st = session.beginSequence(e, sequential);
    if (st != kOfxStatOK && st != kOfxStatReplyDefault) {
      std::fprintf(stderr, "ofx-render: begin sequence render returned %s\n", statusName(st));
      return -1;
    }
  }
  const double setupMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (o.timing) std::printf("{\"event\": \"setup\", \"ms\": %.3f, \"instances\": %zu}\n", setupMs, instances.size());
  RenderTally tally;
  tally.nextFrame = o.firstFrame;
  const bool serialise = safety == kOfxImageEffectRenderUnsafe;
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < workers; ++i) {
    Effect *e = instances[std::min<std::size_t>(i, instances.size() - 1)];
    threads.emplace_back(renderWorker, std::ref(session), e, i, serialise, std::cref(o), std::ref(tally));
  }
  for (std::thread &t : threads) t.join();
  for (Effect *e : instances) session.endSequence(e, sequential);
  if (o.printParams) printParams(instances, "after-render");
  if (outstandingImages() > 0) {
    std::fprintf(stderr, "ofx-render: warning: the plug-in did not release %d image(s)\n", outstandingImages());
  }
  const int frames = o.lastFrame - o.firstFrame + 1;
  const double wallMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (o.timing) {
    std::printf("{\"event\": \"summary\", \"frames\": %d, \"failed\": %d, \"threads\": %u, \"thread_safety\": %s, "
                "\"render_ms_mean\": %.3f, \"wall_ms\": %.3f}\n",
                frames, tally.failed.load(), workers, jsonString(safety).c_str(), tally.renderMsTotal / frames, wallMs);
  }
  return tally.failed;
}

}  // namespace

int main(int argc, char **argv) {
  Options options;
  std::string error;
  bool help = false;
  if (!parseOptions(argc, argv, options, error, help)) {
    if (help) {
      std::fputs(usageText(), stdout);
      return 0;
    }
    std::fprintf(stderr, "ofx-render: %s\n%s", error.c_str(), usageText());
    return kExitUsage;
  }
  setAllowMissing(options.allowMissing);
  std::vector<std::string> errors;
  const std::vector<LoadedPlugin> plugins = loadBundles(options.pluginPaths, errors);
  for (const std::string &e : errors) std::fprintf(stderr, "ofx-render: %s\n", e.c_str());
  if (options.list) return listPlugins(plugins, options);
  auto it = std::find_if(plugins.begin(), plugins.end(),
                         [&](const LoadedPlugin &p) { return p.identifier() == options.pluginId; });
  if (it == plugins.end()) {
    std::fprintf(stderr, "ofx-render: no plug-in %s under the plug-in path\n", options.pluginId.c_str());
    return kExitPluginSetup;
  }
  const int result = renderFrames(*it, options);
  if (result < 0) return kExitPluginSetup;
  if (result != 0) return std::min(result, 100);
  return hostGaps().empty() ? 0 : kExitHostGap;
}
