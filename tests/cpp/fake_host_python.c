/* Test helper: stands for a host process that already runs another Python version than the plug-in's (a Nuke or
 * Natron built with another Python). LD_PRELOAD it into ofx-render: it exports only Py_GetVersion, which the
 * plug-in asks before touching anything else of Python; the plug-in must refuse to load its bridge and say why.
 * Built under two names: libpython3.99.so.1.0 (found by its file name) and libfake_host_python.so (found only by
 * the Py_GetVersion symbol in the global scope, like a host linked statically with Python). */
const char *Py_GetVersion(void);

const char *Py_GetVersion(void) { return "3.99.0 (fake host Python for tests)"; }
