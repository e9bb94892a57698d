// Unit tests of ImageView / regionOfInterest: the address arithmetic that turns OFX's bottom-up images (padded or
// negative rowBytes, non-zero origins) into top-down strided views (docs/CONTRACT.md §1.1).
#include <cstdint>
#include <cstdio>
#include <vector>

#include "Expect.h"
#include "ImageView.h"

using chromaluma::BitDepth;
using chromaluma::ImageView;
using chromaluma::Rect;


// A host-style image whose pixel (x, y) holds the value 1000*y + x in its first channel, stored bottom-up
// (or top-down when `negative`), with `padding` bytes after each row.
struct HostImage {
    std::vector<std::uint16_t> storage;
    ImageView view;
    HostImage(const Rect& bounds, int components, int paddingBytes, bool negative) {
        const int rowElems = bounds.width() * components + paddingBytes / 2;
        storage.assign(static_cast<size_t>(rowElems) * bounds.height(), 0xFFFF);
        for (int y = bounds.y1; y < bounds.y2; ++y) {
            const int storageRow = negative ? bounds.y2 - 1 - y : y - bounds.y1;
            for (int x = bounds.x1; x < bounds.x2; ++x)
                storage[static_cast<size_t>(storageRow) * rowElems + (x - bounds.x1) * components] =
                    static_cast<std::uint16_t>(1000 * (y - bounds.y1) + (x - bounds.x1));
        }
        const std::ptrdiff_t rowBytes = static_cast<std::ptrdiff_t>(rowElems) * 2;
        // OFX: data points at the bottom-left pixel (row y1), whichever way the rows are stored.
        auto* bottomRow = reinterpret_cast<unsigned char*>(storage.data()) +
                          (negative ? static_cast<std::ptrdiff_t>(bounds.height() - 1) * rowBytes : 0);
        view = ImageView(bottomRow, bounds, negative ? -rowBytes : rowBytes, BitDepth::Short, components);
    }
};

static std::uint16_t at(const chromaluma::TopDownLayout& l, int row, int column) {
    return *reinterpret_cast<const std::uint16_t*>(l.first + row * l.rowStride + column * l.pixelStride);
}

static void topDownMatchesBottomUp(int paddingBytes, bool negative, Rect bounds) {
    HostImage image(bounds, 4, paddingBytes, negative);
    EXPECT(image.view.valid());
    const Rect region{bounds.x1 + 2, bounds.y1 + 1, bounds.x1 + 5, bounds.y1 + 4};  // 3x3 inside
    const auto layout = image.view.topDown(region);
    EXPECT(layout.height == 3 && layout.width == 3 && layout.components == 4);
    EXPECT(layout.pixelStride == 8 && layout.componentStride == 2);
    EXPECT(layout.rowStride == -image.view.rowBytes());
    for (int row = 0; row < 3; ++row) {
        for (int column = 0; column < 3; ++column) {
            const int y = region.y2 - 1 - row - bounds.y1, x = region.x1 + column - bounds.x1;  // row 0 = top
            EXPECT(at(layout, row, column) == 1000 * y + x);
        }
    }
}

static void regionOfInterestGrowsAlignsAndClips() {
    const Rect frame{0, 0, 100, 60};
    // No model context: the window itself.
    EXPECT((chromaluma::regionOfInterest({10, 10, 20, 20}, 0, 1, frame, frame) == Rect{10, 10, 20, 20}));
    // Receptive field 3: three pixels each side.
    EXPECT((chromaluma::regionOfInterest({10, 10, 20, 20}, 3, 1, frame, frame) == Rect{7, 7, 23, 23}));
    // Clipped to the limit at the frame's edges.
    EXPECT((chromaluma::regionOfInterest({0, 50, 5, 60}, 4, 1, frame, frame) == Rect{0, 46, 9, 60}));
    // Alignment 4: left edge (from frame x1) and top edge (from frame y2, top-down) on multiples of 4.
    const Rect r = chromaluma::regionOfInterest({10, 10, 20, 21}, 1, 4, frame, frame);
    EXPECT(r.x1 == 8 && (r.x1 - frame.x1) % 4 == 0);
    EXPECT((frame.y2 - r.y2) % 4 == 0 && r.y2 >= 22 && r.y2 == 24);
    EXPECT(r.x2 == 21 && r.y1 == 9);
    // Frames with a non-zero origin align relative to the frame, not to 0.
    const Rect shifted{-3, 5, 97, 65};
    const Rect s = chromaluma::regionOfInterest({0, 20, 10, 30}, 0, 4, shifted, shifted);
    EXPECT((s.x1 - shifted.x1) % 4 == 0 && s.x1 <= 0 && (shifted.y2 - s.y2) % 4 == 0 && s.y2 >= 30);
}

static void positionsAndValidity() {
    int column = -1, row = -1;
    chromaluma::topDownPosition({-3, 5, 97, 65}, 7, 60, column, row);
    EXPECT(column == 10 && row == 5);
    unsigned char byte = 0;
    EXPECT(!ImageView(&byte, {0, 0, 10, 1}, 4, BitDepth::Float, 4).valid());  // rowBytes shorter than a row
    EXPECT(ImageView(&byte, {0, 0, 10, 1}, -160, BitDepth::Float, 4).valid());
    EXPECT(!ImageView(&byte, {0, 0, 10, 1}, 160, BitDepth::None, 4).valid());
    EXPECT(ImageView(&byte, {0, 0, 10, 1}, 40, BitDepth::Byte, 4).pixelBytes() == 4);
    EXPECT(ImageView(&byte, {0, 0, 10, 1}, 120, BitDepth::Float, 3).pixelBytes() == 12);
    // A region outside the bounds gives an empty layout, never an address outside the image.
    const ImageView view(&byte, {0, 0, 10, 10}, 40, BitDepth::Byte, 4);
    EXPECT(view.topDown({5, 5, 11, 6}).first == nullptr);
}

int main() {
    topDownMatchesBottomUp(0, false, {0, 0, 8, 6});
    topDownMatchesBottomUp(24, false, {0, 0, 8, 6});      // padded rows
    topDownMatchesBottomUp(0, true, {0, 0, 8, 6});        // negative rowBytes (top-down storage)
    topDownMatchesBottomUp(16, true, {-5, 7, 3, 13});     // both, and a non-zero origin
    topDownMatchesBottomUp(6, false, {100, -40, 108, -34});
    regionOfInterestGrowsAlignsAndClips();
    positionsAndValidity();
    if (expectFailures() == 0) std::puts("test_image_view: all passed");
    return expectFailures() == 0 ? 0 : 1;
}
