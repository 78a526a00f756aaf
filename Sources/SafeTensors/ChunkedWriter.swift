// ChunkedWriter.swift — the one safetensors write loop: a file whose header
// is known up front, its tensor data written piece by piece, in any order and
// from any number of threads, so memory stays bounded whatever the file size.
//
// Contract:
// - `init(path:header:)` creates a temporary file next to `path`
//   (`path.tmp-<pid>-<random>`, never an existing file), sizes it to the
//   whole file and writes the length field and header JSON.
// - `write(_:entry:atByte:)` / `write(_:as:entry:atElement:)` store bytes /
//   encoded values (FloatCoding.swift) inside the data of one header entry
//   with `pwrite` (short writes and EINTR retried). Safe to call
//   concurrently for disjoint ranges.
// - `sync()` fsyncs; `commit()` fsyncs (if not yet done), closes and renames
//   the temporary file over `path` (readers of the old file are unaffected);
//   a writer released without `commit()` removes its temporary file.
// - Errors are `SafeTensorsError.io` naming the file and the operation.
// - The caller writes every byte of every entry: bytes not written read as
//   zero (the file is sized up front).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public final class ChunkedSafeTensorsWriter: @unchecked Sendable {
    /// The file written by `commit()`.
    public let path: String
    public let header: SafeTensorsHeader
    /// The temporary file written until `commit()`.
    public let temporaryPath: String
    private var fd: Int32
    private var synced = false

    public init(path: String, header: SafeTensorsHeader) throws {
        self.path = path
        self.header = header
        temporaryPath = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #if os(Linux)
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
        #else
        let flags = O_WRONLY | O_CREAT | O_EXCL
        #endif
        fd = open(temporaryPath, flags, 0o644)
        guard fd >= 0 else { throw SafeTensorsError.io(path: temporaryPath, operation: "open", errno: errno) }
        do {
            guard ftruncate(fd, off_t(header.fileSize)) == 0 else {
                throw SafeTensorsError.io(path: temporaryPath, operation: "ftruncate to \(header.fileSize) bytes", errno: errno)
            }
            try header.prefix.withUnsafeBytes { try pwriteAll($0, at: 0) }
        } catch {
            abandon()
            throw error
        }
    }

    deinit { abandon() }

    /// Writes `bytes` at byte `offset` of the data of `header.entries[entry]`.
    public func write(_ bytes: UnsafeRawBufferPointer, entry: Int, atByte offset: Int) throws {
        let range = header.entries[entry].dataRange
        guard offset >= 0, bytes.count <= range.count - offset else {
            throw SafeTensorsError.writeOutOfRange(tensor: header.entries[entry].name, byteOffset: offset,
                                                   byteCount: bytes.count, tensorBytes: range.count)
        }
        try pwriteAll(bytes, at: header.dataStart + range.lowerBound + offset)
    }

    /// Encodes `values` as `format` (the entry's dtype) and writes them from
    /// element `first` of `header.entries[entry]` on.
    public func write(_ values: [Double], as format: FloatDType, entry: Int, atElement first: Int) throws {
        guard format.dtype == header.entries[entry].dtype else {
            throw SafeTensorsError.wrongDType(tensor: header.entries[entry].name, dtype: header.entries[entry].dtype,
                                              requested: "a \(format.dtype.rawValue) write")
        }
        let bytes = format.encoded(values)
        try bytes.withUnsafeBytes { try write($0, entry: entry, atByte: first * format.byteSize) }
    }

    /// Flushes the file to disk.
    public func sync() throws {
        guard fd >= 0, !synced else { return }
        guard fsync(fd) == 0 else { throw SafeTensorsError.io(path: temporaryPath, operation: "fsync", errno: errno) }
        synced = true
    }

    /// Syncs, closes and renames the file into place.
    public func commit() throws {
        try sync()
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw SafeTensorsError.io(path: path, operation: "rename", errno: code)
        }
    }

    /// Closes and removes the temporary file (nothing after `commit()`).
    public func abandon() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        unlink(temporaryPath)
    }

    /// Writes all of `bytes` at file offset `offset`, retrying short writes and EINTR.
    private func pwriteAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let r = pwrite(fd, base + done, bytes.count - done, off_t(offset + done))
            if r < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError.io(path: temporaryPath, operation: "write", errno: errno)
            }
            done += r
        }
    }
}
