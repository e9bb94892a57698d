// ImageView: a non-owning view of pixels a host lent us (docs/CONTRACT.md §1).
//
// OFX images are stored bottom-up: `data` points at the bottom-left pixel of `bounds`, and the address of pixel
// (x, y) is data + (y - y1) * rowBytes + (x - x1) * pixelBytes. rowBytes may be padded beyond width * pixelBytes,
// or negative (the host stores rows top-down), and bounds need not start at (0, 0). This header knows nothing of
// OFX or Python so that its arithmetic can be unit tested alone (tests/cpp/test_image_view.cpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace chromaluma {

enum class BitDepth { None, Byte, Short, Float };

inline int bytesPerComponent(BitDepth depth) {
    switch (depth) {
        case BitDepth::Byte: return 1;
        case BitDepth::Short: return 2;
        case BitDepth::Float: return 4;
        case BitDepth::None: break;
    }
    return 0;
}

// A half-open pixel rectangle [x1, x2) x [y1, y2) in OFX canonical pixel coordinates (y up).
struct Rect {
    int x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    int width() const { return std::max(0, x2 - x1); }
    int height() const { return std::max(0, y2 - y1); }
    bool empty() const { return width() == 0 || height() == 0; }
    bool contains(const Rect& r) const { return r.x1 >= x1 && r.y1 >= y1 && r.x2 <= x2 && r.y2 <= y2; }
    bool operator==(const Rect& o) const { return x1 == o.x1 && y1 == o.y1 && x2 == o.x2 && y2 == o.y2; }
};

inline Rect intersect(const Rect& a, const Rect& b) {
    Rect r{std::max(a.x1, b.x1), std::max(a.y1, b.y1), std::min(a.x2, b.x2), std::min(a.y2, b.y2)};
    if (r.x2 < r.x1) r.x2 = r.x1;
    if (r.y2 < r.y1) r.y2 = r.y1;
    return r;
}

inline Rect grow(const Rect& r, int margin) { return {r.x1 - margin, r.y1 - margin, r.x2 + margin, r.y2 + margin}; }

// A strided 3-D array layout, row 0 at the top of the picture: what numpy is given (no copy).
struct TopDownLayout {
    unsigned char* first = nullptr;  // address of the top-left pixel's first component
    int height = 0, width = 0, components = 0;
    std::ptrdiff_t rowStride = 0;    // bytes from one row to the one below it (= -rowBytes)
    std::ptrdiff_t pixelStride = 0;  // bytes from one pixel to the next on the right
    std::ptrdiff_t componentStride = 0;
};

class ImageView {
public:
    ImageView() = default;
    ImageView(void* data, const Rect& bounds, std::ptrdiff_t rowBytes, BitDepth depth, int components)
        : data_(static_cast<unsigned char*>(data)), bounds_(bounds), rowBytes_(rowBytes), depth_(depth),
          components_(components) {}

    bool valid() const {
        return data_ != nullptr && !bounds_.empty() && bytesPerComponent(depth_) > 0 && components_ > 0 &&
               std::abs(rowBytes_) >= static_cast<std::ptrdiff_t>(bounds_.width()) * pixelBytes();
    }
    void* data() const { return data_; }
    const Rect& bounds() const { return bounds_; }
    std::ptrdiff_t rowBytes() const { return rowBytes_; }
    BitDepth depth() const { return depth_; }
    int components() const { return components_; }
    std::ptrdiff_t pixelBytes() const { return static_cast<std::ptrdiff_t>(components_) * bytesPerComponent(depth_); }

    // Address of pixel (x, y); the caller guarantees bounds().contains(x, y).
    unsigned char* pixelAddress(int x, int y) const {
        return data_ + static_cast<std::ptrdiff_t>(y - bounds_.y1) * rowBytes_ +
               static_cast<std::ptrdiff_t>(x - bounds_.x1) * pixelBytes();
    }

    // The top-down layout of `region` (which must lie inside bounds()): starts at its top row, steps by -rowBytes.
    TopDownLayout topDown(const Rect& region) const {
        TopDownLayout out;
        if (region.empty() || !bounds_.contains(region)) return out;
        out.first = pixelAddress(region.x1, region.y2 - 1);
        out.height = region.height();
        out.width = region.width();
        out.components = components_;
        out.rowStride = -rowBytes_;
        out.pixelStride = pixelBytes();
        out.componentStride = bytesPerComponent(depth_);
        return out;
    }

private:
    unsigned char* data_ = nullptr;
    Rect bounds_{};
    std::ptrdiff_t rowBytes_ = 0;
    BitDepth depth_ = BitDepth::None;
    int components_ = 0;
};

// Top-down (row, column) of the pixel at canonical (x, y) within `frame`: what params["frame_origin"] holds.
inline void topDownPosition(const Rect& frame, int x, int yTop, int& column, int& row) {
    column = x - frame.x1;
    row = frame.y2 - yTop;  // yTop is the exclusive upper edge of a region; its first row is yTop - 1
}

// Grow `window` by `margin` pixels, align its top-left (top-down, relative to `frame`) down to a multiple of
// `alignment` pixels (docs/CONTRACT.md §3 processing_scale), then clip to `limit`.
inline Rect regionOfInterest(const Rect& window, int margin, int alignment, const Rect& frame, const Rect& limit) {
    Rect r = grow(window, std::max(0, margin));
    if (alignment > 1) {
        auto floorMod = [](int v, int m) { return ((v % m) + m) % m; };
        r.x1 -= floorMod(r.x1 - frame.x1, alignment);
        r.y2 += floorMod(frame.y2 - r.y2, alignment);
    }
    return intersect(r, limit);
}

}  // namespace chromaluma
