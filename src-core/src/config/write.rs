//! Writing the config file safely: a private temporary file renamed over
//! the file, so a crash never leaves half a config and a client secret in it
//! is never readable by others, not even for a moment; a symlinked config
//! stays a symlink (its target is replaced).

use std::path::{Path, PathBuf};

/// Writes `text` next to the file `path` names and renames it over that
/// file, so a crash or a full disk never leaves half a config. A symlinked
/// config stays a symlink: its target is what gets replaced. The temporary
/// file is private (0600) from its creation, as the config may hold a client
/// secret; the file keeps the permissions it had (a new one stays 0600).
pub(super) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let target = resolve_symlinks(path)?;
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config");
    let mut nonce = [0u8; 6];
    getrandom::fill(&mut nonce).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(nonce)));
    let result = (|| {
        let mut file = private_new_file(&tmp)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(&target) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` (which must not exist) readable and writable by its owner only.
fn private_new_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// The file `path` finally names, following symlinks (also a dangling one,
/// whose target is then created); `path` itself when it is no symlink.
fn resolve_symlinks(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    // As the OS does, give up on a loop after 40 links.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "{} is a symlink loop",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn the_file_keeps_its_permissions_and_a_new_one_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("config.toml");
        std::fs::write(&path, "[approval]\nwait_seconds = 5\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&path, "# edited\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# edited\n");
        assert_eq!(mode(&path), 0o640);
        let new = d.path().join("new.toml");
        write_atomically(&new, "# new\n").unwrap();
        assert_eq!(mode(&new), 0o600, "it may hold a client secret");
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn the_temporary_file_is_private_from_its_creation() {
        let d = tempfile::tempdir().unwrap();
        let tmp = d.path().join(".x.tmp");
        // Whatever the umask lets through, the new file is 0600 before any byte is written.
        let _f = private_new_file(&tmp).unwrap();
        assert_eq!(mode(&tmp), 0o600);
        assert!(
            private_new_file(&tmp).is_err(),
            "never reuses a file someone left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_config_stays_a_symlink_and_its_target_is_edited() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("dotfiles")).unwrap();
        let target = d.path().join("dotfiles/gatehouse.toml");
        std::fs::write(&target, "# mine\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = d.path().join("config.toml");
        std::os::unix::fs::symlink("dotfiles/gatehouse.toml", &link).unwrap();
        write_atomically(&link, "# mine\nper_hour = 7\n").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "the link was replaced by a plain file"
        );
        let text = std::fs::read_to_string(&target).unwrap();
        assert!(
            text.starts_with("# mine\n") && text.contains("per_hour = 7"),
            "{text}"
        );
        assert_eq!(mode(&target), 0o600);
        // A dangling link: the file it names is created.
        let dangling = d.path().join("other.toml");
        std::os::unix::fs::symlink("dotfiles/new.toml", &dangling).unwrap();
        write_atomically(&dangling, "# new\n").unwrap();
        assert!(d.path().join("dotfiles/new.toml").is_file());
        assert!(
            std::fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}
