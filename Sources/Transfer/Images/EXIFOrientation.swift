/// The EXIF orientation tag (0x0112) of a JPEG (APP1 "Exif") or PNG (eXIf chunk), and the
/// transposition that shows the image upright, as Pillow's `ImageOps.exif_transpose`.
///
/// Keras, Pillow's `open` and torchvision all ignore the tag, so ConvZoo applies it only when asked.
public enum EXIFOrientation {
    /// The orientation (1...8) recorded in an encoded image, or nil when it records none.
    public static func read(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let tiff = tiffBlock(bytes) else { return nil }
        return orientation(inTIFF: UnsafeRawBufferPointer(rebasing: bytes[tiff]))
    }

    /// `image` turned upright for `orientation`; values outside 2...8 leave it as it is.
    public static func apply(_ orientation: Int, to image: PixelImage) -> PixelImage {
        let h = image.height, w = image.width
        switch orientation {
        case 2: return image.remapped(height: h, width: w) { y, x in (y, w - 1 - x) }         // mirror
        case 3: return image.remapped(height: h, width: w) { y, x in (h - 1 - y, w - 1 - x) } // 180
        case 4: return image.remapped(height: h, width: w) { y, x in (h - 1 - y, x) }         // flip
        case 5: return image.remapped(height: w, width: h) { y, x in (x, y) }                 // transpose
        case 6: return image.remapped(height: w, width: h) { y, x in (h - 1 - x, y) }         // 90 clockwise
        case 7: return image.remapped(height: w, width: h) { y, x in (h - 1 - x, w - 1 - y) } // transverse
        case 8: return image.remapped(height: w, width: h) { y, x in (x, w - 1 - y) }         // 90 anticlockwise
        default: return image
        }
    }

    /// The byte range of the TIFF structure holding the EXIF data.
    static func tiffBlock(_ b: UnsafeRawBufferPointer) -> Range<Int>? {
        func u16be(_ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
        func u32be(_ i: Int) -> Int { u16be(i) << 16 | u16be(i + 2) }
        if b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 {
            // JPEG: walk the marker segments up to the start of the scan.
            var i = 2
            while i + 4 <= b.count, b[i] == 0xFF {
                let marker = b[i + 1]
                if marker == 0xFF { i += 1; continue }  // fill byte
                if marker == 0xDA || marker == 0xD9 { return nil }
                let length = u16be(i + 2)
                guard length >= 2, i + 2 + length <= b.count else { return nil }
                let body = (i + 4)..<(i + 2 + length)
                if marker == 0xE1, body.count >= 6,
                   Array(b[body.lowerBound..<(body.lowerBound + 6)]) == Array("Exif\0\0".utf8) {
                    return (body.lowerBound + 6)..<body.upperBound
                }
                i += 2 + length
            }
            return nil
        }
        if b.count >= 8, b[0] == 0x89, b[1] == 0x50 {
            // PNG: chunks of (length, type, data, CRC) after the 8-byte signature; eXIf precedes IDAT.
            var i = 8
            while i + 8 <= b.count {
                let length = u32be(i)
                let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
                guard length >= 0, i + 8 + length <= b.count else { return nil }
                if type == "eXIf" { return (i + 8)..<(i + 8 + length) }
                if type == "IDAT" || type == "IEND" { return nil }
                i += 12 + length
            }
        }
        return nil
    }

    /// The orientation entry of IFD0 in a TIFF structure, bounds-checked throughout.
    static func orientation(inTIFF t: UnsafeRawBufferPointer) -> Int? {
        guard t.count >= 8 else { return nil }
        let little: Bool
        switch (t[0], t[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ i: Int) -> Int? {
            guard i >= 0, i + 2 <= t.count else { return nil }
            return little ? Int(t[i]) | Int(t[i + 1]) << 8 : Int(t[i]) << 8 | Int(t[i + 1])
        }
        func u32(_ i: Int) -> Int? {
            guard let a = u16(i), let b = u16(i + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let entries = u16(ifd) else { return nil }
        for e in 0..<entries {
            let entry = ifd + 2 + 12 * e
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112 {
                guard u16(entry + 2) == 3, let value = u16(entry + 8) else { return nil }  // SHORT
                return value
            }
        }
        return nil
    }
}
