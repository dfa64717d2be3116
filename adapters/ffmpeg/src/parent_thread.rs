//! Children that die with the process that started them: each ffmpeg or ffprobe is forked by
//! a thread of its own that lives until the run is over, and asks the kernel (Linux's
//! parent-death signal) for a SIGKILL when that thread ends. A worker killed with SIGKILL
//! mid-job so takes its ffmpeg with it, instead of leaving it running for minutes, burning a
//! core and writing into a job directory nobody owns any more.
//!
//! Why a thread of its own: the kernel counts the *thread* that forked a child as its parent,
//! not the process. Forking on whatever thread polls the run would tie the child to a thread
//! the crate does not control: a tokio blocking-pool thread retires after some idle seconds,
//! a worker thread that called `block_in_place` becomes one, and a caller may drive the run
//! from a short-lived thread of its own. Any of these ending mid-run would kill a healthy job.
//! The thread here ends only when the run drops its `ParentThread`, which `Runner::run` does
//! after the child was reaped (or, when the run itself is dropped, with the child already sent
//! SIGKILL by `kill_on_drop`): the signal can only fire when the child is already dead or the
//! whole process is.

use std::io;
use std::sync::mpsc;

use tokio::process::{Child, Command};

/// Keeps the thread that forked a child alive; dropping it ends the thread, and with it (on
/// Linux) the child if it still runs.
pub(crate) struct ParentThread {
    /// Dropping it disconnects the channel the thread waits on.
    _release: mpsc::Sender<()>,
}

/// Spawns `command` from a thread of its own, which stays until the returned `ParentThread`
/// is dropped; on Linux the child is SIGKILLed when that thread or the whole process ends.
pub(crate) async fn spawn(mut command: Command) -> io::Result<(Child, ParentThread)> {
    // The child registers with the caller's runtime (its exit is awaited there).
    let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    die_with_parent(&mut command);
    let (spawned_sender, spawned) = tokio::sync::oneshot::channel();
    let (release, released) = mpsc::channel::<()>();
    std::thread::Builder::new().name("chat-ffmpeg-parent".to_owned()).spawn(move || {
        let entered = runtime.enter();
        let outcome = command.spawn();
        let forked = outcome.is_ok();
        // A refused send means the run was dropped meanwhile: the child, dropped here, is
        // killed (`kill_on_drop`), and so it is again when this thread ends.
        if spawned_sender.send(outcome).is_ok() && forked {
            drop(entered);
            // Blocks until the run drops its `ParentThread` (the only sender).
            let _ = released.recv();
        }
    })?;
    let child = spawned.await.map_err(|_| io::Error::other("the thread spawning the child ended"))??;
    Ok((child, ParentThread { _release: release }))
}

/// Asks for the child to be SIGKILLed when the thread forking it ends, and makes it give up at
/// once if the process died before the request took hold.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // The crate's one unsafe block; see the SAFETY note.
fn die_with_parent(command: &mut Command) {
    use nix::sys::prctl;
    use nix::sys::signal::Signal;
    use nix::unistd::{Pid, getppid};

    // Taken before the fork: in the child, `getppid()` answers this process while the process
    // lives (threads share their process's pid), and another (init's, or a subreaper's) once
    // it has died.
    let parent = Pid::this();
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // work is allowed. It makes two system calls (prctl, getppid) and turns an errno into an
    // `io::Error` (a plain value, no allocation); it takes no lock and touches no memory
    // shared with other threads.
    unsafe {
        command.pre_exec(move || {
            prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The process may have died between the fork and the line above; the signal is
            // then never sent, so the child must not go on to exec ffmpeg as an orphan. Its
            // spawn fails (nobody is left to see it) and it exits.
            if getppid() != parent {
                return Err(io::Error::from_raw_os_error(nix::errno::Errno::ESRCH as i32));
            }
            Ok(())
        });
    }
}

/// Elsewhere there is no parent-death signal; children outlive a killed worker there.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}
