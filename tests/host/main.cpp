// ofx-render: a headless OpenFX host for tests and benchmarks. Loads bundles like real hosts, drives one effect
// through the OFX life cycle and renders a frame range of image files. See usageText() for the command line.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "HostSuites.h"
#include "MemoryLog.h"
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
  std::atomic<int> nextRender{0};  // renders are numbered frame by frame: instance 0..N-1 of the first frame, ...
  std::atomic<int> failed{0};
  int done = 0;  // renders finished, under printMutex
  std::mutex printMutex;
  std::mutex unsafeMutex;  // held around render calls of a plug-in that is not thread safe
  double renderMsTotal = 0.0;
  MemoryLog &memory;
  explicit RenderTally(MemoryLog &log) : memory(log) {}
};

// The instances of each of --instances (index = its number K): one, or one per worker for an instance-safe plug-in.
using InstanceGroups = std::vector<std::vector<Effect *>>;

// Worker `index` takes the next render from the shared queue and renders it on its own instance of that group.
void renderWorker(Session &session, const InstanceGroups &groups, unsigned index, bool serialise, const Options &o,
                  RenderTally &tally) {
  const int count = static_cast<int>(groups.size());
  const int renders = (o.lastFrame - o.firstFrame + 1) * count;
  for (int next = tally.nextRender++; next < renders; next = tally.nextRender++) {
    const int frame = o.reverseOrder ? o.lastFrame - next / count : o.firstFrame + next / count;
    const int group = next % count;
    Effect *instance = groups[group][std::min<std::size_t>(index, groups[group].size() - 1)];
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
    tally.memory.sample(++tally.done, frame, group, ok);
    if (!ok) {
      ++tally.failed;
      const std::string which = count > 1 ? " (instance " + std::to_string(group) + ")" : "";
      std::fprintf(stderr, "ofx-render: frame %d%s failed: %s\n", frame, which.c_str(), why.c_str());
    }
    if (o.timing) {
      std::printf("{\"event\": \"frame\", \"frame\": %d, \"instance\": %d, \"status\": \"%s\", \"render_ms\": %.3f, "
                  "\"total_ms\": %.3f, \"thread\": %u%s%s}\n",
                  frame, group, ok ? "ok" : "failed", renderMs, totalMs, index, ok ? "" : ", \"message\": ",
                  ok ? "" : jsonString(why).c_str());
      std::fflush(stdout);
    }
  }
}

// Instances per the plug-in's render thread safety, for each of --instances: fully safe shares one, instance safe
// gets one per thread, unsafe shares one and renders one frame at a time. Empty when one could not be created
// (message printed).
InstanceGroups createInstances(Session &session, unsigned workers, int count) {
  InstanceGroups groups;
  for (int group = 0; group < count; ++group) {
    Effect *first = session.createInstance(group);
    if (first == nullptr) return {};
    session.clipPreferences(first);
    std::vector<Effect *> instances{first};
    if (session.threadSafety() == kOfxImageEffectRenderInstanceSafe) {
      while (instances.size() < workers) {
        Effect *more = session.createInstance(group);
        if (more == nullptr) return {};
        instances.push_back(more);
      }
    }
    groups.push_back(instances);
  }
  return groups;
}

// --print-params: one JSON line per instance with every parameter's value (`when`: after-instance-changed, or
// after-render); `instance` counts every instance created, `group` is the --instances number it renders for.
void printParams(const InstanceGroups &groups, const char *when) {
  std::size_t i = 0;
  for (std::size_t group = 0; group < groups.size(); ++group) {
    for (Effect *instance : groups[group]) {
      std::printf("{\"event\": \"params\", \"when\": \"%s\", \"instance\": %zu, \"group\": %zu, \"values\": %s}\n",
                  when, i++, group, paramValuesJson(*instance).c_str());
    }
  }
  std::fflush(stdout);
}

// Returns the number of failed renders, or -1 when the plug-in could not be set up. Resident memory is sampled
// into `memory` (when open) after setup, after every render and at the end.
int renderFrames(const LoadedPlugin &plugin, const Options &o, MemoryLog &memory) {
  const auto start = std::chrono::steady_clock::now();
  RenderTally tally(memory);
  Session session(plugin, o);
  if (!session.describe()) return -1;
  setTimeLineBounds(o.firstFrame, o.lastFrame);
  const std::string safety = session.threadSafety();
  const int frames = o.lastFrame - o.firstFrame + 1, renders = frames * o.instances;
  const unsigned workers = static_cast<unsigned>(std::min(o.threads, renders));
  const InstanceGroups groups = createInstances(session, workers, o.instances);
  if (groups.empty()) return -1;
  if (o.printParams) printParams(groups, "after-instance-changed");
  const bool sequential = workers == 1;
  std::size_t instanceCount = 0;
  for (const std::vector<Effect *> &group : groups) {
    for (Effect *e : group) {
      ++instanceCount;
      const OfxStatus st = session.beginSequence(e, sequential);
      if (st != kOfxStatOK && st != kOfxStatReplyDefault) {
        std::fprintf(stderr, "ofx-render: begin sequence render returned %s\n", statusName(st));
        return -1;
      }
    }
  }
  const double setupMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (o.timing) std::printf("{\"event\": \"setup\", \"ms\": %.3f, \"instances\": %zu}\n", setupMs, instanceCount);
  tally.memory.sample("setup", 0);
  const bool serialise = safety == kOfxImageEffectRenderUnsafe;
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < workers; ++i) {
    threads.emplace_back(renderWorker, std::ref(session), std::cref(groups), i, serialise, std::cref(o),
                         std::ref(tally));
  }
  for (std::thread &t : threads) t.join();
  for (const std::vector<Effect *> &group : groups) {
    for (Effect *e : group) session.endSequence(e, sequential);
  }
  tally.memory.sample("end", tally.done);
  if (o.printParams) printParams(groups, "after-render");
  if (refusedFetches() > 0) {
    std::fprintf(stderr, "ofx-render: warning: refused %d clipGetImage call(s) for frames the plug-in had not asked "
                 "for in getFramesNeeded\n", refusedFetches());
  }
  if (outstandingImages() > 0) {
    std::fprintf(stderr, "ofx-render: warning: the plug-in did not release %d image(s)\n", outstandingImages());
  }
  const double wallMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (o.timing) {
    std::printf("{\"event\": \"summary\", \"frames\": %d, \"renders\": %d, \"failed\": %d, \"threads\": %u, "
                "\"thread_safety\": %s, \"render_ms_mean\": %.3f, \"wall_ms\": %.3f}\n",
                frames, renders, tally.failed.load(), workers, jsonString(safety).c_str(),
                tally.renderMsTotal / renders, wallMs);
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
  MemoryLog memory;
  if (!options.memoryLog.empty() && !memory.open(options.memoryLog, error)) {
    std::fprintf(stderr, "ofx-render: %s\n", error.c_str());
    return kExitUsage;
  }
  setAllowMissing(options.allowMissing);
  setHostCudaRender(options.cudaRender);
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
  const int result = renderFrames(*it, options, memory);
  if (result < 0) return kExitPluginSetup;
  if (result != 0) return std::min(result, 100);
  return hostGaps().empty() ? 0 : kExitHostGap;
}
