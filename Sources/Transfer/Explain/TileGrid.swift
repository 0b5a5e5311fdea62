import Engine

/// Pictures of what a network holds: a convolution's kernels, or a layer's feature maps, as a grid
/// of tiles each scaled to its own range (minimum black, maximum white), with one-pixel gaps.
public enum TileGrid {
    /// No grid holds more tiles than this; the rest are left out (`Grid.shown` says how many are drawn).
    public static let maximumTiles = 1024
    static let gap = 1
    static let background = RGB(128, 128, 128)

    /// A drawn grid and how many of its subject's tiles it shows.
    public struct Grid {
        public let image: PixelImage
        public let shown: Int
        public let total: Int
    }

    /// The kernels of `conv`: one RGB tile per filter when it reads 3 channels (its first layer),
    /// else one gray tile per (filter, input channel), a row per filter.
    public static func filters(of conv: Conv2D) -> Grid {
        let k = conv.kernel.value  // (kh, kw, in/groups, out)
        let (kh, kw, inputs, outputs) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        let scale = max(1, 24 / max(kh, kw))
        if inputs == 3 {
            let shown = min(outputs, maximumTiles)
            let tiles = (0..<shown).map { f in
                tile(height: kh, width: kw, channels: 3, scale: scale) { y, x, c in k[y, x, c, f] }
            }
            return Grid(image: layout(tiles, columns: Int(Double(shown).squareRoot().rounded(.up))), shown: shown, total: outputs)
        }
        let rows = min(outputs, max(1, maximumTiles / inputs)), columns = min(inputs, maximumTiles)
        var tiles: [Tile] = []
        for f in 0..<rows {
            for c in 0..<columns { tiles.append(tile(height: kh, width: kw, channels: 1, scale: scale) { y, x, _ in k[y, x, c, f] }) }
        }
        return Grid(image: layout(tiles, columns: columns), shown: tiles.count, total: outputs * inputs)
    }

    /// The feature maps of one sample, (h, w, channels) or (1, h, w, channels): a gray tile per channel.
    public static func activations(_ a: Tensor) throws -> Grid {
        let maps = a.rank == 4 && a.shape[0] == 1 ? a.reshaped(Array(a.shape.dropFirst())) : a
        guard maps.rank == 3 else {
            throw TransferError("feature maps need an (h, w, channels) output, got shape \(a.shape); choose a convolutional layer")
        }
        let (h, w, channels) = (maps.shape[0], maps.shape[1], maps.shape[2])
        let shown = min(channels, maximumTiles)
        let scale = max(1, 32 / max(h, w))
        let tiles = (0..<shown).map { c in tile(height: h, width: w, channels: 1, scale: scale) { y, x, _ in maps[y, x, c] } }
        return Grid(image: layout(tiles, columns: Int(Double(shown).squareRoot().rounded(.up))), shown: shown, total: channels)
    }

    struct Tile {
        let width: Int, height: Int
        /// RGB, row-major.
        let pixels: [UInt8]
    }

    /// A tile of `height` x `width` values (each `scale` x `scale` pixels) mapped from their own
    /// minimum to maximum onto 0...255; a constant or non-finite tile is mid-gray.
    static func tile(height: Int, width: Int, channels: Int, scale: Int, _ value: (Int, Int, Int) -> Float) -> Tile {
        var values: [Float] = []
        for y in 0..<height { for x in 0..<width { for c in 0..<channels { values.append(value(y, x, c)) } } }
        let finite = values.filter(\.isFinite)
        let low = finite.min() ?? 0, high = finite.max() ?? 0
        func level(_ v: Float) -> UInt8 {
            guard high > low, v.isFinite else { return 128 }
            return UInt8(((v - low) / (high - low) * 255).rounded())
        }
        var pixels = [UInt8](repeating: 0, count: height * scale * width * scale * 3)
        for y in 0..<(height * scale) {
            for x in 0..<(width * scale) {
                for c in 0..<3 {
                    pixels[(y * width * scale + x) * 3 + c] = level(values[((y / scale) * width + x / scale) * channels + min(c, channels - 1)])
                }
            }
        }
        return Tile(width: width * scale, height: height * scale, pixels: pixels)
    }

    /// Tiles (all of one size) in rows of `columns`, separated and framed by `gap` pixels.
    static func layout(_ tiles: [Tile], columns: Int) -> PixelImage {
        guard let first = tiles.first else { return Canvas(width: 1, height: 1, background: background).image }
        let columns = max(1, min(columns, tiles.count)), rows = (tiles.count + columns - 1) / columns
        var canvas = Canvas(width: columns * (first.width + gap) + gap, height: rows * (first.height + gap) + gap,
                            background: background)
        for (i, tile) in tiles.enumerated() {
            let left = gap + (i % columns) * (tile.width + gap), top = gap + (i / columns) * (tile.height + gap)
            for y in 0..<tile.height {
                for x in 0..<tile.width {
                    let p = (y * tile.width + x) * 3
                    canvas.fill(x: left + x, y: top + y, width: 1, height: 1, RGB(tile.pixels[p], tile.pixels[p + 1], tile.pixels[p + 2]))
                }
            }
        }
        return canvas.image
    }
}
