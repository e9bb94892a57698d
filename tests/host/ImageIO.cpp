// libpng and libtiff back ends for ofx-render's frame files.
#include "ImageIO.h"

#include <png.h>
#include <tiffio.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>

namespace ofxrender {

namespace {

std::string lowerExtension(const std::string &path) {
  const std::size_t dot = path.find_last_of('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool isTiffPath(const std::string &path) {
  const std::string ext = lowerExtension(path);
  return ext == "tif" || ext == "tiff";
}

struct FileCloser {
  void operator()(std::FILE *f) const { std::fclose(f); }
};

[[noreturn]] void pngFail(png_structp png, png_const_charp message) {
  std::string *error = static_cast<std::string *>(png_get_error_ptr(png));
  *error = message;
  png_longjmp(png, 1);
}

void pngWarn(png_structp, png_const_charp) {}

// Reads with the classic API so 16-bit samples keep their exact values (no gamma or linear conversion).
Raster readPng(const std::string &path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw ImageIOError("cannot open " + path);
  std::string error;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, pngFail, pngWarn);
  png_infop info = png_create_info_struct(png);
  Raster raster;
  std::vector<png_bytep> rows;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw ImageIOError(path + ": " + error);
  }
  png_init_io(png, file.get());
  png_read_info(png, info);
  png_set_expand(png);  // palette -> RGB, low-bit grey -> 8-bit, tRNS -> alpha
  if (png_get_bit_depth(png, info) == 16) png_set_swap(png);  // native little-endian uint16
  png_read_update_info(png, info);
  raster.width = static_cast<int>(png_get_image_width(png, info));
  raster.height = static_cast<int>(png_get_image_height(png, info));
  raster.channels = png_get_channels(png, info);
  raster.depth = png_get_bit_depth(png, info) == 16 ? Depth::Short : Depth::Byte;
  raster.bytes.resize(raster.rowSize() * raster.height);
  rows.resize(raster.height);
  for (int y = 0; y < raster.height; ++y) rows[y] = raster.bytes.data() + y * raster.rowSize();
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return raster;
}

void writePng(const std::string &path, const Raster &raster) {
  if (raster.depth == Depth::Float) throw ImageIOError(path + ": PNG cannot hold float samples");
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
  if (!file) throw ImageIOError("cannot create " + path);
  std::string error;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, pngFail, pngWarn);
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows(raster.height);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw ImageIOError(path + ": " + error);
  }
  static const int kColourType[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                    PNG_COLOR_TYPE_RGB_ALPHA};
  png_init_io(png, file.get());
  png_set_compression_level(png, 1);  // test frames: speed over size
  png_set_IHDR(png, info, raster.width, raster.height, raster.depth == Depth::Short ? 16 : 8,
               kColourType[raster.channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  if (raster.depth == Depth::Short) png_set_swap(png);
  for (int y = 0; y < raster.height; ++y) {
    rows[y] = const_cast<png_bytep>(raster.bytes.data() + y * raster.rowSize());
  }
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
}

struct TiffCloser {
  void operator()(TIFF *t) const { TIFFClose(t); }
};

Depth tiffDepth(const std::string &path, uint16_t bits, uint16_t format) {
  if (bits == 8 && format == SAMPLEFORMAT_UINT) return Depth::Byte;
  if (bits == 16 && format == SAMPLEFORMAT_UINT) return Depth::Short;
  if (bits == 32 && format == SAMPLEFORMAT_IEEEFP) return Depth::Float;
  throw ImageIOError(path + ": unsupported TIFF samples (" + std::to_string(bits) + "-bit, format " +
                     std::to_string(format) + "); use 8/16-bit unsigned or 32-bit float");
}

Raster readTiff(const std::string &path) {
  TIFFSetWarningHandler(nullptr);
  std::unique_ptr<TIFF, TiffCloser> tif(TIFFOpen(path.c_str(), "r"));
  if (!tif) throw ImageIOError("cannot open TIFF " + path);
  uint32_t width = 0, height = 0;
  uint16_t channels = 1, bits = 8, format = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
  TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &height);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLESPERPIXEL, &channels);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_PLANARCONFIG, &planar);
  if (planar != PLANARCONFIG_CONTIG || channels < 1 || channels > 4) {
    throw ImageIOError(path + ": only interleaved TIFFs with 1-4 channels are supported");
  }
  Raster raster;
  raster.width = static_cast<int>(width);
  raster.height = static_cast<int>(height);
  raster.channels = channels;
  raster.depth = tiffDepth(path, bits, format);
  raster.bytes.resize(raster.rowSize() * raster.height);
  for (uint32_t y = 0; y < height; ++y) {
    if (TIFFReadScanline(tif.get(), raster.bytes.data() + y * raster.rowSize(), y, 0) < 0) {
      throw ImageIOError(path + ": cannot read row " + std::to_string(y));
    }
  }
  return raster;
}

void writeTiff(const std::string &path, const Raster &raster) {
  std::unique_ptr<TIFF, TiffCloser> tif(TIFFOpen(path.c_str(), "w"));
  if (!tif) throw ImageIOError("cannot create TIFF " + path);
  TIFF *t = tif.get();
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(raster.width));
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(raster.height));
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(raster.channels));
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(bytesPerSample(raster.depth) * 8));
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, raster.depth == Depth::Float ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, raster.channels >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
  TIFFSetField(t, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, static_cast<uint32_t>(std::max(1, raster.height)));
  if (raster.channels == 2 || raster.channels == 4) {
    const uint16_t extra[] = {EXTRASAMPLE_ASSOCALPHA};
    TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, extra);
  }
  for (int y = 0; y < raster.height; ++y) {
    void *row = const_cast<std::uint8_t *>(raster.bytes.data() + y * raster.rowSize());
    if (TIFFWriteScanline(t, row, static_cast<uint32_t>(y), 0) < 0) {
      throw ImageIOError(path + ": cannot write row " + std::to_string(y));
    }
  }
}

}  // namespace

bool isPngPath(const std::string &path) { return lowerExtension(path) == "png"; }

Raster readImage(const std::string &path) {
  if (isPngPath(path)) return readPng(path);
  if (isTiffPath(path)) return readTiff(path);
  throw ImageIOError(path + ": unknown image format (use .png, .tif or .tiff)");
}

void writeImage(const std::string &path, const Raster &raster) {
  if (isPngPath(path)) return writePng(path, raster);
  if (isTiffPath(path)) return writeTiff(path, raster);
  throw ImageIOError(path + ": unknown image format (use .png, .tif or .tiff)");
}

}  // namespace ofxrender
