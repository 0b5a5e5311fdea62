extension NPY {
    /// A `.npy` header, parsed as strictly as `numpy.load` parses it: a Python dict literal with
    /// exactly the keys `descr` (a string), `fortran_order` (a bool) and `shape` (a tuple of ints).
    struct Header {
        let descr: String
        let fortranOrder: Bool
        let shape: [Int]

        /// Python literal values a header may hold.
        private indirect enum Value {
            case string(String), bool(Bool), integer(Int?), tuple([Value]), list([Value]), none
        }

        init(parsing text: String, fail: (String) -> FormatError) throws {
            var parser = Parser(scalars: Array(text.unicodeScalars))
            guard let fields = parser.dictionary(), parser.atEnd else {
                throw fail("header is not a Python dict literal: '\(excerpt(text))'")
            }
            let keys = Set(fields.map(\.key))
            guard keys == ["descr", "fortran_order", "shape"] else {
                throw fail("header keys are \(keys.sorted().map { "'\(excerpt($0))'" }.joined(separator: ", ")); "
                    + "expected exactly 'descr', 'fortran_order' and 'shape'")
            }
            // Python keeps the last of repeated keys.
            func value(_ key: String) -> Value { fields.last { $0.key == key }!.value }
            guard case .string(let descr) = value("descr") else {
                throw fail("'descr' is not a dtype string (structured arrays are not supported)")
            }
            guard case .bool(let fortran) = value("fortran_order") else { throw fail("'fortran_order' is not True or False") }
            guard case .tuple(let entries) = value("shape") else { throw fail("'shape' is not a tuple") }
            var shape: [Int] = []
            for entry in entries {
                guard case .integer(let n) = entry else { throw fail("'shape' holds something other than integers") }
                guard let n, n >= 0 else { throw fail("'shape' holds a negative or oversized dimension") }
                shape.append(n)
            }
            self.descr = descr
            fortranOrder = fortran
            self.shape = shape
        }

        /// A recursive-descent reader of the Python literals NumPy writes.
        private struct Parser {
            let scalars: [Unicode.Scalar]
            var i = 0

            var atEnd: Bool { mutating get { skipSpace(); return i == scalars.count } }

            mutating func skipSpace() {
                while i < scalars.count, [" ", "\t", "\n", "\r", "\u{0C}"].contains(scalars[i]) { i += 1 }
            }

            mutating func take(_ c: Unicode.Scalar) -> Bool {
                skipSpace()
                guard i < scalars.count, scalars[i] == c else { return false }
                i += 1
                return true
            }

            mutating func dictionary() -> [(key: String, value: Value)]? {
                guard take("{") else { return nil }
                var fields: [(key: String, value: Value)] = []
                while !take("}") {
                    guard case .string(let key)? = value(), take(":"), let v = value() else { return nil }
                    fields.append((key, v))
                    if !take(",") { return take("}") ? fields : nil }
                }
                return fields
            }

            mutating func value() -> Value? {
                skipSpace()
                guard i < scalars.count else { return nil }
                switch scalars[i] {
                case "'", "\"": return string()
                case "(": i += 1; return sequence(closing: ")").flatMap { items, trailingComma in
                    // `(3)` is an int in Python, `(3,)` a tuple.
                    items.count == 1 && !trailingComma ? items[0] : .tuple(items)
                }
                case "[": i += 1; return sequence(closing: "]").map { .list($0.items) }
                default:
                    let start = i
                    while i < scalars.count, scalars[i].properties.isAlphabetic || ("0"..."9").contains(scalars[i])
                            || scalars[i] == "-" || scalars[i] == "+" || scalars[i] == "_" { i += 1 }
                    let word = String(String.UnicodeScalarView(scalars[start..<i]))
                    switch word {
                    case "True": return .bool(true)
                    case "False": return .bool(false)
                    case "None": return Value.none
                    default:
                        let digits = word.drop { $0 == "-" || $0 == "+" }
                        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
                        return .integer(Int(word))
                    }
                }
            }

            mutating func sequence(closing: Unicode.Scalar) -> (items: [Value], trailingComma: Bool)? {
                var items: [Value] = []
                var trailingComma = false
                while !take(closing) {
                    guard let v = value() else { return nil }
                    items.append(v)
                    trailingComma = take(",")
                    if !trailingComma { return take(closing) ? (items, false) : nil }
                }
                return (items, trailingComma)
            }

            mutating func string() -> Value? {
                let quote = scalars[i]
                i += 1
                var result = String.UnicodeScalarView()
                while i < scalars.count, scalars[i] != quote {
                    if scalars[i] == "\\" { i += 1 }
                    guard i < scalars.count, scalars[i] != "\n" else { return nil }
                    result.append(scalars[i])
                    i += 1
                }
                guard i < scalars.count else { return nil }
                i += 1
                return .string(String(result))
            }
        }
    }
}
