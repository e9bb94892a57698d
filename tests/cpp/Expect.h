// The one check macro of the C++ unit tests: a failed EXPECT prints file:line and the condition, counts the
// failure and lets the test go on, so one run reports every broken case. main() returns expectFailures() != 0.
#pragma once

#include <cstdio>

inline int& expectFailures() {
    static int failures = 0;
    return failures;
}

#define EXPECT(condition)                                                                  \
    do {                                                                                   \
        if (!(condition)) {                                                                \
            std::fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #condition); \
            ++expectFailures();                                                            \
        }                                                                                  \
    } while (0)
