//! Processes sharing one work directory, on the real file system: each works in a folder of
//! its own, and the folders of dead processes go when the next process starts. A live process
//! is stood for by an open file holding the lock of its folder (a `flock` belongs to the open
//! file, so a second open of the same file in this test process cannot take it, as another
//! process could not); a dead one by a lock file nobody holds, which is what the kernel leaves
//! of a process that died holding it.

#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::path::{Path, PathBuf};

use chat_core::ports::WorkArea as _;
use chat_system::LocalWorkArea;

/// A folder as a process leaves it mid-job: a job directory holding an original.
fn folder_with_a_job(folder: &Path) -> PathBuf {
    let original = folder.join("job-m-1").join("original");
    std::fs::create_dir_all(original.parent().unwrap()).unwrap();
    std::fs::write(&original, b"bytes").unwrap();
    original
}

/// The lock file of `name`'s folder, held, as its live process holds it.
fn hold_lock(work: &Path, name: &str) -> File {
    let lock = File::create(work.join(format!("{name}.lock"))).unwrap();
    lock.try_lock().unwrap();
    lock
}

fn entries(work: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(work).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_starting_process_removes_the_folders_of_dead_processes_and_only_those() {
    let data = tempfile::tempdir().unwrap();
    let work = data.path().join("work");
    // A: a live process with a job in hand, through the adapter.
    let (a, swept) = LocalWorkArea::new(&work, "a").unwrap();
    assert!(swept.removed.is_empty() && swept.failed.is_empty(), "{swept:?}");
    let a_job = a.create("job-m-1").await.unwrap();
    std::fs::write(a_job.join("original").path(), b"bytes").unwrap();
    // B: killed mid-job, its lock released by the kernel.
    let b_original = folder_with_a_job(&work.join("b"));
    File::create(work.join("b.lock")).unwrap();
    // C: live, its lock held (by another open file).
    let c_original = folder_with_a_job(&work.join("c"));
    let c_lock = hold_lock(&work, "c");
    // A job directory of the layout before per-process folders, and a lone lock file.
    folder_with_a_job(&work.join("job-old-1"));
    File::create(work.join("e.lock")).unwrap();

    let (d, swept) = LocalWorkArea::new(&work, "d").unwrap();

    assert!(swept.failed.is_empty(), "{swept:?}");
    assert_eq!(swept.removed, [work.join("b"), work.join("e"), work.join("job-old-1")]);
    assert!(!b_original.exists());
    assert_eq!(entries(&work), ["a", "a.lock", "c", "c.lock", "d", "d.lock"]);
    assert_eq!(std::fs::read(a_job.join("original").path()).unwrap(), b"bytes");
    assert_eq!(std::fs::read(&c_original).unwrap(), b"bytes");
    assert_eq!(d.dir(), work.join("d"));
    assert!(std::fs::read_dir(d.dir()).unwrap().next().is_none(), "d starts empty");

    // A still owns its folder; once C dies, the next process to start removes C's.
    assert!(a.create("job-n-1").await.unwrap().path().is_dir());
    drop(c_lock);
    let (_f, swept) = LocalWorkArea::new(&work, "f").unwrap();
    assert_eq!(swept.removed, [work.join("c")]);
    assert!(!work.join("c").exists() && !work.join("c.lock").exists());
    assert!(a.dir().is_dir() && d.dir().is_dir());
}

#[test]
fn a_name_in_use_by_a_live_process_is_not_taken_and_a_dropped_area_leaves_nothing() {
    let data = tempfile::tempdir().unwrap();
    let work = data.path().join("work");
    let (first, _) = LocalWorkArea::new(&work, "chat-worker-h-7").unwrap();
    let (second, swept) = LocalWorkArea::new(&work, "chat-worker-h-7").unwrap();
    assert!(swept.removed.is_empty(), "{swept:?}");
    assert_eq!(first.dir(), work.join("chat-worker-h-7"));
    assert_eq!(second.dir(), work.join("chat-worker-h-7-2"));

    drop(first);
    assert_eq!(entries(&work), ["chat-worker-h-7-2", "chat-worker-h-7-2.lock"]);
    drop(second);
    assert!(entries(&work).is_empty());
}

#[test]
fn a_folder_left_by_a_dead_process_of_the_same_name_is_emptied() {
    // A reused pid: in a restarted container the worker is pid 1 on the same host name again.
    let data = tempfile::tempdir().unwrap();
    let work = data.path().join("work");
    let left = folder_with_a_job(&work.join("chat-worker-h-1"));

    let (area, swept) = LocalWorkArea::new(&work, "chat-worker-h-1").unwrap();

    assert_eq!(swept.removed, [work.join("chat-worker-h-1")]);
    assert_eq!(area.dir(), work.join("chat-worker-h-1"));
    assert!(!left.exists());
    assert!(std::fs::read_dir(area.dir()).unwrap().next().is_none());
}
