// Reading and writing frames through real image libraries: libpng (8/16-bit) and libtiff (8/16-bit, 32-bit float).
#pragma once

#include <stdexcept>
#include <string>

#include "Pixels.h"

namespace ofxrender {

struct ImageIOError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The format comes from the extension: .png, .tif or .tiff. Throws ImageIOError naming the file.
Raster readImage(const std::string &path);
// PNG stores Byte as 8-bit and Short as 16-bit (Float is refused: convert first); TIFF stores all three depths.
// Alpha in TIFF is written as associated (premultiplied), the OFX default.
void writeImage(const std::string &path, const Raster &raster);

bool isPngPath(const std::string &path);

}  // namespace ofxrender
