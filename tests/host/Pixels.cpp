// Conversions between image files' rasters and host memory layouts.
#include "Pixels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ofxImageEffect.h"

namespace ofxrender {

int bytesPerSample(Depth depth) {
  switch (depth) {
    case Depth::Byte: return 1;
    case Depth::Short: return 2;
    case Depth::Float: return 4;
  }
  return 1;
}

const char *ofxDepthName(Depth depth) {
  switch (depth) {
    case Depth::Byte: return kOfxBitDepthByte;
    case Depth::Short: return kOfxBitDepthShort;
    case Depth::Float: return kOfxBitDepthFloat;
  }
  return kOfxBitDepthNone;
}

const char *ofxComponentsName(int channels) {
  switch (channels) {
    case 1: return kOfxImageComponentAlpha;
    case 3: return kOfxImageComponentRGB;
    case 4: return kOfxImageComponentRGBA;
    default: return kOfxImageComponentNone;
  }
}

HostImage::HostImage(OfxRectI bounds, Depth depth, int components, MemoryLayout layout)
    : bounds_(bounds), depth_(depth), components_(components) {
  const long width = std::max(0, bounds.x2 - bounds.x1);
  const long height = std::max(0, bounds.y2 - bounds.y1);
  const long rowSize = width * pixelBytes() + layout.rowPadding;
  storage_.assign(static_cast<std::size_t>(rowSize * height) + 16, 0);
  // 16-byte aligned start, as hosts' image allocators give
  std::uint8_t *base = storage_.data();
  base += (16 - reinterpret_cast<std::uintptr_t>(base) % 16) % 16;
  if (layout.negativeRowBytes) {
    rowBytes_ = -rowSize;
    data_ = height > 0 ? base + (height - 1) * rowSize : base;  // bottom row is the last in memory
  } else {
    rowBytes_ = rowSize;
    data_ = base;
  }
}

std::uint8_t *HostImage::pixel(int x, int y) {
  return data_ + static_cast<long>(y - bounds_.y1) * rowBytes_ + static_cast<long>(x - bounds_.x1) * pixelBytes();
}

const std::uint8_t *HostImage::pixel(int x, int y) const {
  return data_ + static_cast<long>(y - bounds_.y1) * rowBytes_ + static_cast<long>(x - bounds_.x1) * pixelBytes();
}

void HostImage::fill(std::uint8_t value) { std::fill(storage_.begin(), storage_.end(), value); }

namespace {

double maxValue(Depth depth) {
  return depth == Depth::Byte ? 255.0 : depth == Depth::Short ? 65535.0 : 1.0;
}

// One sample as 0..1 (floats unchanged).
double loadSample(const std::uint8_t *p, Depth depth) {
  switch (depth) {
    case Depth::Byte: return *p / 255.0;
    case Depth::Short: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return v / 65535.0;
    }
    case Depth::Float: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
  }
  return 0.0;
}

void storeSample(std::uint8_t *p, Depth depth, double value) {
  if (depth == Depth::Float) {
    const float v = static_cast<float>(value);
    std::memcpy(p, &v, 4);
    return;
  }
  const double top = maxValue(depth);
  const double scaled = std::isnan(value) ? 0.0 : std::min(top, std::max(0.0, std::round(value * top)));
  if (depth == Depth::Byte) {
    *p = static_cast<std::uint8_t>(scaled);
  } else {
    const std::uint16_t v = static_cast<std::uint16_t>(scaled);
    std::memcpy(p, &v, 2);
  }
}

// Maps a source pixel of `from` channels to `to` channels: grey spreads to RGB, missing alpha is opaque, and an
// Alpha-only destination (a mask) takes grey, or alpha when the source has colour and alpha.
void mapChannels(const double *in, int from, double *out, int to) {
  double r, g, b, a;
  switch (from) {
    case 1: r = g = b = in[0]; a = 1.0; break;
    case 2: r = g = b = in[0]; a = in[1]; break;
    case 3: r = in[0]; g = in[1]; b = in[2]; a = 1.0; break;
    default: r = in[0]; g = in[1]; b = in[2]; a = in[3]; break;
  }
  if (to == 1) {
    out[0] = from == 4 ? a : r;
    return;
  }
  out[0] = r;
  out[1] = g;
  out[2] = b;
  if (to == 4) out[3] = a;
}

}  // namespace

void rasterToHost(const Raster &raster, HostImage &image) {
  const OfxRectI &b = image.bounds();
  const int sb = bytesPerSample(raster.depth);
  const int db = bytesPerSample(image.depth());
  double in[4], out[4];
  for (int row = 0; row < raster.height; ++row) {
    const std::uint8_t *src = raster.bytes.data() + row * raster.rowSize();
    const int y = b.y2 - 1 - row;  // file row 0 is the top, OFX y grows upwards
    std::uint8_t *dst = image.pixel(b.x1, y);
    for (int x = 0; x < raster.width; ++x) {
      for (int c = 0; c < raster.channels; ++c) in[c] = loadSample(src + (x * raster.channels + c) * sb, raster.depth);
      mapChannels(in, raster.channels, out, image.components());
      for (int c = 0; c < image.components(); ++c) {
        storeSample(dst + (x * image.components() + c) * db, image.depth(), out[c]);
      }
    }
  }
}

Raster hostToRaster(const HostImage &image) {
  const OfxRectI &b = image.bounds();
  Raster raster;
  raster.width = b.x2 - b.x1;
  raster.height = b.y2 - b.y1;
  raster.channels = image.components();
  raster.depth = image.depth();
  raster.bytes.resize(raster.rowSize() * raster.height);
  for (int row = 0; row < raster.height; ++row) {
    std::memcpy(raster.bytes.data() + row * raster.rowSize(), image.pixel(b.x1, b.y2 - 1 - row), raster.rowSize());
  }
  return raster;
}

Raster convertDepth(const Raster &raster, Depth depth) {
  if (raster.depth == depth) return raster;
  Raster out = raster;
  out.depth = depth;
  out.bytes.assign(out.rowSize() * out.height, 0);
  const std::size_t samples = static_cast<std::size_t>(raster.width) * raster.height * raster.channels;
  const int sb = bytesPerSample(raster.depth);
  const int db = bytesPerSample(depth);
  for (std::size_t i = 0; i < samples; ++i) {
    storeSample(out.bytes.data() + i * db, depth, loadSample(raster.bytes.data() + i * sb, raster.depth));
  }
  return out;
}

Raster scaleNearest(const Raster &raster, double scale) {
  if (scale == 1.0) return raster;
  Raster out = raster;
  out.width = std::max(1, static_cast<int>(std::floor(raster.width * scale)));
  out.height = std::max(1, static_cast<int>(std::floor(raster.height * scale)));
  out.bytes.assign(out.rowSize() * out.height, 0);
  const std::size_t pixelSize = static_cast<std::size_t>(raster.channels) * bytesPerSample(raster.depth);
  for (int y = 0; y < out.height; ++y) {
    const int sy = std::min(raster.height - 1, static_cast<int>(y / scale));  // top-left sample of each block
    for (int x = 0; x < out.width; ++x) {
      const int sx = std::min(raster.width - 1, static_cast<int>(x / scale));
      std::memcpy(out.bytes.data() + y * out.rowSize() + x * pixelSize,
                  raster.bytes.data() + sy * raster.rowSize() + sx * pixelSize, pixelSize);
    }
  }
  return out;
}

}  // namespace ofxrender
