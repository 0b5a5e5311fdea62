import Foundation

/// A kB figure of /proc/self/status (`VmRSS`, `VmHWM`), 0 where the file is absent.
public func processStatusKB(_ key: String) -> Int {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix(key + ":") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
}
