// Unit tests of PythonEnvironment: how the plug-in decides which Python environment to embed.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "PythonEnvironment.h"

static int failures = 0;

#define EXPECT(condition)                                                                  \
    do {                                                                                   \
        if (!(condition)) {                                                                \
            std::fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #condition); \
            ++failures;                                                                    \
        }                                                                                  \
    } while (0)

static void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

static void confParsing() {
    const std::string text = "# comment = no\n  python =  /opt/env/bin/python  # trailing\nother=1\n";
    EXPECT(chromaluma::confValue(text, "python").value_or("") == "/opt/env/bin/python");
    EXPECT(chromaluma::confValue(text, "other").value_or("") == "1");
    EXPECT(!chromaluma::confValue(text, "comment").has_value());
    EXPECT(!chromaluma::confValue("pythonx = 1\n", "python").has_value());
}

static void locating(const std::string& root) {
    const std::string resources = root + "/Resources", bin = root + "/venv/bin";
    mkdir(resources.c_str(), 0755);
    mkdir((root + "/venv").c_str(), 0755);
    mkdir(bin.c_str(), 0755);
    const std::string python = bin + "/python";
    write(python, "#!/bin/sh\n");
    chmod(python.c_str(), 0755);
    write(root + "/venv/pyvenv.cfg", "home = /usr/bin\nversion = 3.11.7\n");
    unsetenv(chromaluma::kPythonEnvVar);

    std::string error;
    EXPECT(!chromaluma::locatePython(resources, error).has_value());
    EXPECT(error.find("chromaluma.conf is missing") != std::string::npos);

    write(resources + "/chromaluma.conf", "python = " + python + "\n");
    error.clear();
    const auto found = chromaluma::locatePython(resources, error);
    EXPECT(found.has_value() && found->python == python && found->origin == resources + "/chromaluma.conf");

    setenv(chromaluma::kPythonEnvVar, (root + "/nowhere/python").c_str(), 1);  // the variable wins, even if bad
    error.clear();
    EXPECT(!chromaluma::locatePython(resources, error).has_value());
    EXPECT(error.find("CHROMALUMA_PYTHON") != std::string::npos && error.find("nowhere") != std::string::npos);
    unsetenv(chromaluma::kPythonEnvVar);

    EXPECT(chromaluma::venvPythonVersion(python) == "3.11");
    EXPECT(chromaluma::venvPythonVersion("/nonexistent/bin/python").empty());
    EXPECT(chromaluma::environmentPrefix(python) == root + "/venv");
    const std::string help = chromaluma::environmentHelp("x");
    EXPECT(help.find("CHROMALUMA_PYTHON=") != std::string::npos && help.find("make install-plugin") != std::string::npos);
}

int main() {
    char pattern[] = "/tmp/chromaluma-env-XXXXXX";
    const char* root = mkdtemp(pattern);
    if (root == nullptr) return 2;
    confParsing();
    locating(root);
    std::system((std::string("rm -rf ") + root).c_str());
    if (failures == 0) std::puts("test_python_environment: all passed");
    return failures == 0 ? 0 : 1;
}
