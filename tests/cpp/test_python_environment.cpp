// Unit tests of PythonEnvironment: how the plug-in decides which Python environment to embed.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "Expect.h"
#include "PythonEnvironment.h"


static void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

static void confParsing() {
    const std::string text = "# comment = no\n  python =  /opt/env/bin/python  # trailing\nother=1\n";
    EXPECT(chromaluma::confValue(text, "python").value_or("") == "/opt/env/bin/python");
    EXPECT(chromaluma::confValue(text, "other").value_or("") == "1");
    EXPECT(!chromaluma::confValue(text, "comment").has_value());
    EXPECT(!chromaluma::confValue("pythonx = 1\n", "python").has_value());
}

// Which libpython: named by the conf (for its own python only) or CHROMALUMA_LIBPYTHON, else derived.
static void libpythonLookup(const std::string& root, const std::string& resources, const std::string& python) {
    std::string error;
    write(resources + "/chromaluma.conf", "python = " + python + "\nlibpython = /opt/py/lib/libpython3.11.so.1.0\n");
    auto named = chromaluma::locatePython(resources, error);
    EXPECT(named.has_value() && named->libpython == "/opt/py/lib/libpython3.11.so.1.0" &&
           named->libpythonOrigin == resources + "/chromaluma.conf");
    setenv(chromaluma::kPythonEnvVar, python.c_str(), 1);  // the conf's libpython belongs to the conf's python
    named = chromaluma::locatePython(resources, error);
    EXPECT(named.has_value() && named->origin == "CHROMALUMA_PYTHON" && named->libpython.empty());
    setenv(chromaluma::kLibpythonEnvVar, "/elsewhere/libpython3.11.so.1.0", 1);  // the variable always wins
    named = chromaluma::locatePython(resources, error);
    EXPECT(named.has_value() && named->libpython == "/elsewhere/libpython3.11.so.1.0" &&
           named->libpythonOrigin == "CHROMALUMA_LIBPYTHON");
    unsetenv(chromaluma::kPythonEnvVar);
    unsetenv(chromaluma::kLibpythonEnvVar);

    // Derived from the venv's base installation (pyvenv.cfg home = /usr/bin), then the venv's own prefix.
    const auto candidates = chromaluma::libpythonCandidates(python, "3.11");
    EXPECT(!candidates.empty() && candidates.front() == "/usr/lib/libpython3.11.so.1.0");
    bool multiarch = false, ownPrefix = false;
    for (const std::string& c : candidates) {
        multiarch = multiarch || (c.find("/usr/lib/") == 0 && c.find("-linux-gnu/libpython3.11.so.1.0") != std::string::npos);
        ownPrefix = ownPrefix || c == root + "/venv/lib/libpython3.11.so.1.0";
    }
    EXPECT(multiarch && ownPrefix);
    const std::string libHelp = chromaluma::libpythonHelp("x", "3.11");
    EXPECT(libHelp.find("CHROMALUMA_LIBPYTHON=/path/to/libpython3.11.so.1.0") != std::string::npos &&
           libHelp.find("CHROMALUMA_PYTHON=") != std::string::npos);
    EXPECT(chromaluma::loadedLibpython("3.11").empty());  // this test program does not load Python
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

    libpythonLookup(root, resources, python);

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
    if (expectFailures() == 0) std::puts("test_python_environment: all passed");
    return expectFailures() == 0 ? 0 : 1;
}
