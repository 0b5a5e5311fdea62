import Foundation

/// Text and pictures inside the SVG and HTML that ConvZoo writes.
enum Markup {
    /// `text` safe as XML or HTML character data and inside a quoted attribute: the five markup
    /// characters as entities, and the control characters XML cannot hold at all (every one below
    /// U+0020 but tab, line feed and carriage return) as U+FFFD. Class names, file names and
    /// titles come from files and the command line, so they go through here before any page holds them.
    static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value): out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `bytes` as a data: URI of `mediaType`, so a page holds the picture itself.
    static func dataURI(_ bytes: Data, mediaType: String) -> String {
        "data:\(mediaType);base64," + bytes.base64EncodedString()
    }
}
