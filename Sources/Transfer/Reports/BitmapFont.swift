/// A 5x7 pixel font (HD44780 style) for the labels of PNG plots: digits, ASCII letters and a little
/// punctuation; any other character draws as '?'.
enum BitmapFont {
    /// Glyph columns; the advance adds one blank column between characters.
    static let glyphWidth = 5
    static let advance = 6
    /// Seven rows above the baseline and one below it for the descenders of g, j, p, q, y.
    static let glyphHeight = 8

    /// The rows of `character`'s glyph, top first; bit 4 is the leftmost column.
    static func rows(_ character: Character) -> UInt64 {
        guard let ascii = character.asciiValue, let glyph = glyphs[ascii] else { return glyphs[UInt8(ascii: "?")]! }
        return glyph
    }

    /// Whether pixel (`column`, `row`) of `character` is ink.
    static func isInk(_ glyph: UInt64, column: Int, row: Int) -> Bool {
        (glyph >> UInt64(8 * (7 - row) + (4 - column))) & 1 == 1
    }

    /// Pixels across `text` at `scale`, without the trailing blank column.
    static func width(_ text: String, scale: Int) -> Int { text.isEmpty ? 0 : (text.count * advance - 1) * scale }

    /// Each glyph packs its 8 rows into one integer, the top row in the high byte.
    private static let glyphs: [UInt8: UInt64] = {
        let table: [(Character, UInt64)] = [
            ("0", 0x0E11_1315_1911_0E00), ("1", 0x040C_0404_0404_0E00), ("2", 0x0E11_0102_0408_1F00),
            ("3", 0x1F02_0402_0111_0E00), ("4", 0x0206_0A12_1F02_0200), ("5", 0x1F10_1E01_0111_0E00),
            ("6", 0x0608_101E_1111_0E00), ("7", 0x1F01_0204_0808_0800), ("8", 0x0E11_110E_1111_0E00),
            ("9", 0x0E11_110F_0102_0C00),
            ("A", 0x0E11_1111_1F11_1100), ("B", 0x1E11_111E_1111_1E00), ("C", 0x0E11_1010_1011_0E00),
            ("D", 0x1C12_1111_1112_1C00), ("E", 0x1F10_101E_1010_1F00), ("F", 0x1F10_101E_1010_1000),
            ("G", 0x0E11_1017_1111_0F00), ("H", 0x1111_111F_1111_1100), ("I", 0x0E04_0404_0404_0E00),
            ("J", 0x0702_0202_0212_0C00), ("K", 0x1112_1418_1412_1100), ("L", 0x1010_1010_1010_1F00),
            ("M", 0x111B_1515_1111_1100), ("N", 0x1111_1915_1311_1100), ("O", 0x0E11_1111_1111_0E00),
            ("P", 0x1E11_111E_1010_1000), ("Q", 0x0E11_1111_1512_0D00), ("R", 0x1E11_111E_1412_1100),
            ("S", 0x0F10_100E_0101_1E00), ("T", 0x1F04_0404_0404_0400), ("U", 0x1111_1111_1111_0E00),
            ("V", 0x1111_1111_110A_0400), ("W", 0x1111_1115_1515_0A00), ("X", 0x1111_0A04_0A11_1100),
            ("Y", 0x1111_110A_0404_0400), ("Z", 0x1F01_0204_0810_1F00),
            ("a", 0x0000_0E01_0F11_0F00), ("b", 0x1010_1619_1111_1E00), ("c", 0x0000_0E10_1011_0E00),
            ("d", 0x0101_0D13_1111_0F00), ("e", 0x0000_0E11_1F10_0E00), ("f", 0x0609_081C_0808_0800),
            ("g", 0x0000_0F11_110F_010E), ("h", 0x1010_1619_1111_1100), ("i", 0x0400_0C04_0404_0E00),
            ("j", 0x0200_0602_0202_120C), ("k", 0x1010_1214_1814_1200), ("l", 0x0C04_0404_0404_0E00),
            ("m", 0x0000_1A15_1511_1100), ("n", 0x0000_1619_1111_1100), ("o", 0x0000_0E11_1111_0E00),
            ("p", 0x0000_1E11_111E_1010), ("q", 0x0000_0F11_110F_0101), ("r", 0x0000_1619_1010_1000),
            ("s", 0x0000_0E10_0E01_1E00), ("t", 0x0808_1C08_0809_0600), ("u", 0x0000_1111_1113_0D00),
            ("v", 0x0000_1111_110A_0400), ("w", 0x0000_1111_1515_0A00), ("x", 0x0000_110A_040A_1100),
            ("y", 0x0000_1111_110F_010E), ("z", 0x0000_1F02_0408_1F00),
            (" ", 0), ("-", 0x0000_001F_0000_0000), ("_", 0x0000_0000_0000_1F00), (".", 0x0000_0000_000C_0C00),
            ("?", 0x0E11_0102_0400_0400), (":", 0x000C_0C00_0C0C_0000), (",", 0x0000_0000_0C04_0800),
            ("(", 0x0204_0808_0804_0200), (")", 0x0804_0202_0204_0800), ("/", 0x0001_0204_0810_0000),
            ("%", 0x1819_0204_0813_0300), ("'", 0x0C04_0800_0000_0000),
        ]
        return Dictionary(uniqueKeysWithValues: table.map { ($0.0.asciiValue!, $0.1) })
    }()
}
