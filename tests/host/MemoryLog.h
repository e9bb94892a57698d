// ofx-render --memory-log: the process's resident memory sampled between renders, as JSON lines, so a soak can
// show whether memory stays flat once the plug-in has warmed up.
#pragma once

#include <cstdio>
#include <string>

namespace ofxrender {

// VmRSS of this process in KiB (/proc/self/status), or -1 where that cannot be read.
long residentKiB();

class MemoryLog {
 public:
  MemoryLog() = default;
  MemoryLog(const MemoryLog &) = delete;
  MemoryLog &operator=(const MemoryLog &) = delete;
  ~MemoryLog();
  // Opens (truncates) `path`; false with the reason in `error` when it cannot be written.
  bool open(const std::string &path, std::string &error);
  bool active() const { return file_ != nullptr; }
  // One line: {"stage": STAGE, "done": renders finished so far, "rss_kib": …} plus, for a render, its frame,
  // instance and status. Callers serialise calls (lines are in `done` order).
  void sample(const char *stage, int done);
  void sample(int done, int frame, int instance, bool ok);

 private:
  std::FILE *file_ = nullptr;
};

}  // namespace ofxrender
