//! Which process owns which folder of the work directory. Several processes may share one
//! (chat-worker processes, or an embedded chat-server and workers, on one `CHAT_DATA_DIR`),
//! and one killed with SIGKILL cleans nothing up, so each works in a folder of its own,
//! `<work>/<name>/`, and holds an exclusive `flock` on `<work>/<name>.lock` for as long as it
//! lives. The kernel drops the lock when the process dies, however it dies: a lock that can
//! be taken marks a folder nobody works in any more, which the next process to start removes.
//!
//! The lock file sits beside the folder, not in it, and only a holder of its lock removes
//! either of them (the folder first): a process setting up its own folder takes the lock
//! before it creates the folder, so a sweep can never remove a folder someone works in. A lock
//! taken on a file that a sweeper unlinked in the meantime is worthless (the next process
//! would create a new file and lock that one too), so every lock taken is checked to be on
//! the file the path names, and taken again on a fresh file if not.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// How many names, `<process>`, `<process>-2`, ..., a process tries for its folder before it
/// gives up: a second live process of the same name (the same host name and pid, as in two
/// containers with a fixed host name on one volume, or a test creating two areas) takes the
/// next.
const NAMES_PER_PROCESS: usize = 16;

/// How often a lock is taken again when the file it was taken on turned out to be unlinked
/// by a sweeper; more than one race with a sweep in a row does not happen in practice.
const LOCK_ATTEMPTS: usize = 4;

const LOCK_SUFFIX: &str = ".lock";

/// What a process found in the work directory at start and removed.
#[derive(Debug, Default)]
pub struct Swept {
    /// Folders that processes now gone left behind (and their lock files), removed. The
    /// process's own folder is among them when a dead process of the same name (a reused pid)
    /// left it: it was emptied.
    pub removed: Vec<PathBuf>,
    /// Folders of processes now gone that could not be removed, with why.
    pub failed: Vec<(PathBuf, io::Error)>,
}

/// This process's folder, owned as long as the value lives; removed with it.
#[derive(Debug)]
pub(crate) struct ProcessFolder {
    path: PathBuf,
    lock_path: PathBuf,
    /// Holds the lock; closed (so released) after `drop` removed the folder.
    _lock: File,
}

impl ProcessFolder {
    /// Takes a folder for `process` under `work_dir` (created if missing), empty, then removes
    /// the folders of the processes that are gone.
    pub(crate) fn claim(work_dir: &Path, process: &str) -> io::Result<(ProcessFolder, Swept)> {
        std::fs::create_dir_all(work_dir)?;
        let mut swept = Swept::default();
        let folder = Self::take_a_name(work_dir, process, &mut swept)?;
        sweep(work_dir, &folder.path, &mut swept)?;
        Ok((folder, swept))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn take_a_name(work_dir: &Path, process: &str, swept: &mut Swept) -> io::Result<ProcessFolder> {
        for attempt in 1..=NAMES_PER_PROCESS {
            let name = if attempt == 1 { process.to_owned() } else { format!("{process}-{attempt}") };
            let path = work_dir.join(&name);
            let lock_path = lock_path_of(&path);
            let Some(lock) = take_lock(&lock_path)? else { continue };
            if remove_folder(&path)? {
                swept.removed.push(path.clone());
            }
            std::fs::create_dir(&path)?;
            return Ok(ProcessFolder { path, lock_path, _lock: lock });
        }
        Err(io::Error::other(format!(
            "{} live processes already work in {} under the name {process}",
            NAMES_PER_PROCESS,
            work_dir.display()
        )))
    }
}

impl Drop for ProcessFolder {
    /// A process that stops cleanly leaves nothing behind (jobs still in hand were abandoned
    /// with the worker loop, and go to another worker).
    fn drop(&mut self) {
        if remove_folder(&self.path).is_ok() {
            let _ = std::fs::remove_file(&self.lock_path);
        }
    }
}

/// Removes the folder of every process in `work_dir` whose lock can be taken (its owner is
/// gone), and its lock file; `own` is left alone. A folder without a lock file (left by a
/// version that kept job directories right in `work_dir`) is treated alike: a lock file is
/// created for it, so a process setting up a folder of that name in the meantime is respected.
fn sweep(work_dir: &Path, own: &Path, swept: &mut Swept) -> io::Result<()> {
    for name in owner_names(work_dir)? {
        let path = work_dir.join(&name);
        if path == own {
            continue;
        }
        let lock_path = lock_path_of(&path);
        match take_lock(&lock_path) {
            Ok(None) => {}
            Ok(Some(_lock)) => match remove_folder(&path).and_then(|_| std::fs::remove_file(&lock_path)) {
                Ok(()) => swept.removed.push(path),
                Err(error) => swept.failed.push((path, error)),
            },
            Err(error) => swept.failed.push((path, error)),
        }
    }
    Ok(())
}

/// The names of the folders and lock files in `work_dir`, each once, in order.
fn owner_names(work_dir: &Path) -> io::Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(work_dir)? {
        let entry = entry?;
        let Ok(file_name) = entry.file_name().into_string() else { continue };
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            names.insert(file_name);
        } else if let Some(name) = file_name.strip_suffix(LOCK_SUFFIX).filter(|_| file_type.is_file()) {
            names.insert(name.to_owned());
        }
    }
    Ok(names)
}

fn lock_path_of(folder: &Path) -> PathBuf {
    let mut path = folder.as_os_str().to_owned();
    path.push(LOCK_SUFFIX);
    PathBuf::from(path)
}

/// The exclusive lock on the file at `path` (created if missing), or `None` while another
/// open file holds it: a live process.
fn take_lock(path: &Path) -> io::Result<Option<File>> {
    for _ in 0..LOCK_ATTEMPTS {
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(error)) => return Err(error),
        }
        if names_this_file(path, &file)? {
            return Ok(Some(file));
        }
    }
    // Lost to sweepers every time: leave the name to others.
    Ok(None)
}

/// Whether `path` still names `file`, rather than nothing or a newer file.
fn names_this_file(path: &Path, file: &File) -> io::Result<bool> {
    let opened = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(named) => Ok(named.dev() == opened.dev() && named.ino() == opened.ino()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Removes `folder` and everything in it; whether there was one.
fn remove_folder(folder: &Path) -> io::Result<bool> {
    match std::fs::remove_dir_all(folder) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}
