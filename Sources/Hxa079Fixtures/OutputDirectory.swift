// OutputDirectory: the one rule for every command that writes a directory
// (`hxa079 fixtures make --out`, `hxa079 init-model --out`).
//
// Contract: the directory must be absent or empty, or `--force` given. With
// `--force` the earlier contents are removed first, as a whole, so nothing of
// an earlier run survives (no stale mutants.safetensors, no shards of an
// earlier layout). `--force` removes only entries the command itself writes
// (`owns`); a directory that also holds anything else is refused even with
// `--force`, so a mistyped `--out` never deletes a user's files.

import Hxa079

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a command writes into its output directory.
package struct OutputKind: Sendable {
    /// "a fixture", "a model".
    public var noun: String
    /// True for a top-level entry this command writes (and may remove with --force).
    public var owns: @Sendable (String) -> Bool

    public init(noun: String, owns: @escaping @Sendable (String) -> Bool) {
        self.noun = noun
        self.owns = owns
    }

    /// A fixture directory (SPEC.md §4.6): manifest.json, *.safetensors, model/.
    public static let fixture = OutputKind(noun: "a fixture") { name in
        name == "manifest.json" || name == "model" || name.hasSuffix(".safetensors")
    }

    /// A model directory: config.json, *.safetensors, model.safetensors.index.json.
    public static let model = OutputKind(noun: "a model") { name in
        name == "config.json" || name == "model.safetensors.index.json" || name.hasSuffix(".safetensors")
    }
}

/// Makes `path` ready to be written: creates it when absent; when it is not
/// empty, refuses without `force`, and with `force` removes what an earlier
/// run of the same kind wrote (refusing when it holds anything else). With
/// `checkOnly` it only refuses what it would refuse, and changes nothing.
///
/// - Throws: `Hxa079Error.invalidArgument` (one line naming the directory and
///   what it holds) or `.io` when it cannot be created or emptied.
package func prepareOutputDirectory(_ path: String, kind: OutputKind, force: Bool, checkOnly: Bool = false) throws {
    if fileExists(path) && !isDirectory(path) {
        throw Hxa079Error.invalidArgument("\(path) exists and is not a directory")
    }
    guard isDirectory(path) else {
        if !checkOnly { try makeDirectory(path) }
        return
    }
    let entries = try directoryEntries(path)
    if entries.isEmpty { return }
    let listed = entries.prefix(6).joined(separator: ", ") + (entries.count > 6 ? ", …" : "")
    let foreign = entries.filter { !kind.owns($0) }
    if !force {
        let what = foreign.isEmpty ? kind.noun : "files"
        throw Hxa079Error.invalidArgument("\(path) already holds \(what) (\(listed)); pass --force to replace it, or choose an empty directory")
    }
    if !foreign.isEmpty {
        throw Hxa079Error.invalidArgument("\(path) holds files that are not \(kind.noun)'s (\(foreign.prefix(6).joined(separator: ", "))); --force replaces only \(kind.noun): choose an empty directory")
    }
    if checkOnly { return }
    for e in entries { removeTree(path + "/" + e) }
    let left = try directoryEntries(path)
    if !left.isEmpty { throw Hxa079Error.io(path: path, message: "cannot remove \(left.joined(separator: ", ")) of the earlier contents") }
}

/// Removes a directory tree (best effort; `prepareOutputDirectory` checks the
/// result). A symbolic link is removed, never followed.
package func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    guard (st.st_mode & S_IFMT) == S_IFDIR else { unlink(path); return }
    if let entries = try? directoryEntries(path) {
        for name in entries { removeTree(path + "/" + name) }
    }
    rmdir(path)
}
