// Resident memory samples for ofx-render --memory-log.
#include "MemoryLog.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ofxrender {

long residentKiB() {
  std::FILE *status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      kib = std::strtol(line + 6, nullptr, 10);
      break;
    }
  }
  std::fclose(status);
  return kib;
}

MemoryLog::~MemoryLog() {
  if (file_ != nullptr) std::fclose(file_);
}

bool MemoryLog::open(const std::string &path, std::string &error) {
  file_ = std::fopen(path.c_str(), "w");
  if (file_ == nullptr) error = "--memory-log " + path + ": " + std::strerror(errno);
  return file_ != nullptr;
}

void MemoryLog::sample(const char *stage, int done) {
  if (file_ == nullptr) return;
  std::fprintf(file_, "{\"stage\": \"%s\", \"done\": %d, \"rss_kib\": %ld}\n", stage, done, residentKiB());
  std::fflush(file_);
}

void MemoryLog::sample(int done, int frame, int instance, bool ok) {
  if (file_ == nullptr) return;
  std::fprintf(file_,
               "{\"stage\": \"render\", \"done\": %d, \"frame\": %d, \"instance\": %d, \"status\": \"%s\", "
               "\"rss_kib\": %ld}\n",
               done, frame, instance, ok ? "ok" : "failed", residentKiB());
  std::fflush(file_);
}

}  // namespace ofxrender
