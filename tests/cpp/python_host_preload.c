/* Test helper: makes any process a "host that already runs Python", like Nuke or Natron.
 *
 * LD_PRELOAD this library into ofx-render with CHROMALUMA_TEST_HOST_PYTHON=/path/to/base/python: its constructor
 * starts an interpreter from that (base, chromaluma-less) Python and releases the GIL, as such hosts do. The
 * plug-in must then use this interpreter (never start a second one) and add its own environment's packages.
 * Without the variable it does nothing. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void start_host_python(void) {
    const char *python = getenv("CHROMALUMA_TEST_HOST_PYTHON");
    if (python == NULL || *python == '\0') return;
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, python);
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        fprintf(stderr, "python_host_preload: could not start %s\n", python);
        return;
    }
    fprintf(stderr, "python_host_preload: host Python %s started\n", Py_GetVersion());
    PyEval_SaveThread();
}
