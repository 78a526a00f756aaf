// POSIXFiles: the small file-system helpers the package uses (config,
// index and manifest files; directories; sizes for display).
//
// Contract: every failure throws `Hxa079Error.io` naming the path and the
// system's reason; nothing traps. Package access: for this package's
// modules, not for its consumers.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file into memory (small files: config, index, manifest).
/// Files larger than `limit` bytes are refused.
package func readFileBytes(_ path: String, limit: Int = Int.max) throws -> [UInt8] {
    if isDirectory(path) { throw Hxa079Error.io(path: path, message: "is a directory, expected a file") }
    if let size = fileSize(path), size > limit {
        throw Hxa079Error.io(path: path, message: "is \(size) bytes, more than the \(limit)-byte limit for this file")
    }
    guard let f = fopen(path, "rb") else {
        throw Hxa079Error.io(path: path, message: "cannot open (\(String(cString: strerror(errno))))")
    }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n > 0 { out.append(contentsOf: buffer[0..<n]) }
        if out.count > limit { throw Hxa079Error.io(path: path, message: "is more than the \(limit)-byte limit for this file") }
        if n < buffer.count {
            if ferror(f) != 0 { throw Hxa079Error.io(path: path, message: "read error") }
            break
        }
    }
    return out
}

/// Writes `bytes` to `path` (replacing it).
package func writeFileBytes(_ path: String, _ bytes: [UInt8]) throws {
    guard let f = fopen(path, "wb") else {
        throw Hxa079Error.io(path: path, message: "cannot create (\(String(cString: strerror(errno))))")
    }
    defer { fclose(f) }
    let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    if n != bytes.count { throw Hxa079Error.io(path: path, message: "short write") }
}

/// True when `path` exists (file or directory).
package func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// True when `path` is a directory.
package func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// Creates `path` and its parents if missing.
package func makeDirectory(_ path: String) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        current += "/" + part
        if !fileExists(current) && mkdir(current, 0o755) != 0 && errno != EEXIST {
            throw Hxa079Error.io(path: current, message: "cannot create directory (\(String(cString: strerror(errno))))")
        }
    }
}

/// Size in bytes of the file at `path`.
package func fileSize(_ path: String) -> Int? {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : nil
}

/// Names of the entries of directory `path` (without `.` and `..`), sorted.
package func directoryEntries(_ path: String) throws -> [String] {
    guard let d = opendir(path) else {
        throw Hxa079Error.io(path: path, message: "cannot list directory (\(String(cString: strerror(errno))))")
    }
    defer { closedir(d) }
    var names: [String] = []
    while let entry = readdir(d) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// The last path component.
func lastComponent(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}

/// "1.23 GB", "456 KB", "12 B" (decimal units).
package func formatBytes(_ n: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n), u = 0
    while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
    if u == 0 { return "\(n) B" }
    let scaled = (v * 100).rounded() / 100
    return "\(scaled) \(units[u])"
}
