// MappedFile.swift — the byte storage behind a `SafeTensorsFile`: either a
// read-only private memory map of a file or an in-memory byte array.
//
// Contract:
// - `Storage(path:)` opens the file read-only, requires a regular file, and
//   maps it with PROT_READ / MAP_PRIVATE. A file shorter than 8 bytes (also an
//   empty one, which mmap would refuse) throws `.fileTooSmall` without mapping.
//   The mapping is released when the storage is deallocated.
// - All system-call failures throw `SafeTensorsError.io` naming the path.
// - As with any memory map, truncating the file on disk while it is mapped
//   makes later reads of the lost pages fault (SIGBUS); do not rewrite a file
//   that is being read. `SafeTensorsWriter.write(to:)` replaces files by rename,
//   which is safe for existing readers.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

final class Storage: @unchecked Sendable {
    private enum Backing {
        case mapped(UnsafeMutableRawPointer, Int)
        case memory([UInt8])
    }

    private let backing: Backing

    init(bytes: [UInt8]) {
        backing = .memory(bytes)
    }

    init(path: String) throws {
        #if os(Linux)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        #else
        let fd = open(path, O_RDONLY)
        #endif
        guard fd >= 0 else { throw SafeTensorsError.io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }  // the mapping stays valid after close
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafeTensorsError.io(path: path, operation: "fstat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SafeTensorsError.notARegularFile(path: path) }
        let size = Int(st.st_size)
        guard size >= 8 else { throw SafeTensorsError.inFile(path: path, .fileTooSmall(size: size)) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SafeTensorsError.io(path: path, operation: "mmap", errno: errno)
        }
        backing = .mapped(p, size)
    }

    deinit {
        if case .mapped(let p, let size) = backing { munmap(p, size) }
    }

    var count: Int {
        switch backing {
        case .mapped(_, let size): return size
        case .memory(let a): return a.count
        }
    }

    var isMapped: Bool {
        if case .mapped = backing { return true }
        return false
    }

    /// Calls `body` with a read-only view of all bytes.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch backing {
        case .mapped(let p, let size):
            return try body(UnsafeRawBufferPointer(start: UnsafeRawPointer(p), count: size))
        case .memory(let a):
            return try a.withUnsafeBytes(body)
        }
    }

    /// A copy of bytes `range` (which the caller has validated).
    func copyBytes(_ range: Range<Int>) -> [UInt8] {
        withBytes { Array($0[range]) }
    }
}
