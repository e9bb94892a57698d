// Pixels on both sides of ofx-render: Raster (an image file's samples, top row first, tightly packed) and
// HostImage (an OFX image as a host lays it out: bottom-up rows, optional padding, negative rowBytes, any origin).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ofxCore.h"

namespace ofxrender {

enum class Depth { Byte, Short, Float };

int bytesPerSample(Depth depth);
const char *ofxDepthName(Depth depth);        // kOfxBitDepth*
const char *ofxComponentsName(int channels);  // kOfxImageComponent* for 1, 3, 4

// An image as stored in a file: row 0 is the top of the picture.
struct Raster {
  int width = 0;
  int height = 0;
  int channels = 0;  // 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
  Depth depth = Depth::Byte;
  std::vector<std::uint8_t> bytes;
  std::size_t rowSize() const { return static_cast<std::size_t>(width) * channels * bytesPerSample(depth); }
};

// How a host lays an image out in memory.
struct MemoryLayout {
  int rowPadding = 0;         // extra bytes at the end of each row
  bool negativeRowBytes = false;  // rows stored top-down in memory; rowBytes < 0; data still at bottom-left
};

class HostImage {
 public:
  HostImage(OfxRectI bounds, Depth depth, int components, MemoryLayout layout);
  void *data() { return data_; }  // the bottom-left pixel of bounds
  const void *data() const { return data_; }
  long rowBytes() const { return rowBytes_; }
  const OfxRectI &bounds() const { return bounds_; }
  Depth depth() const { return depth_; }
  int components() const { return components_; }
  int pixelBytes() const { return components_ * bytesPerSample(depth_); }
  std::uint8_t *pixel(int x, int y);
  const std::uint8_t *pixel(int x, int y) const;
  // Fills every byte, padding included, so that pixels a plug-in never wrote stand out.
  void fill(std::uint8_t value);

 private:
  OfxRectI bounds_;
  Depth depth_;
  int components_;
  long rowBytes_;
  std::vector<std::uint8_t> storage_;
  std::uint8_t *data_ = nullptr;
};

// Copies a file's samples into a host image of the same size (converting depth and components).
void rasterToHost(const Raster &raster, HostImage &image);
// The host image's pixels as a file raster of the image's own depth and components.
Raster hostToRaster(const HostImage &image);
// The raster converted to another sample depth (values map 0..1 <-> 0..max; floats clamp when going to integers).
Raster convertDepth(const Raster &raster, Depth depth);
// Nearest-neighbour resize for --render-scale (cheap and exact on the samples it keeps).
Raster scaleNearest(const Raster &raster, double scale);

}  // namespace ofxrender
