//! Child processes that can never outlive the program that started them.
//!
//! A test binary keeps its control plane in a `static`, and statics are never dropped, so `Drop`
//! alone cannot stop etcd and kube-apiserver when the tests end, panic or are killed. Every child is
//! therefore started with `PR_SET_PDEATHSIG = SIGKILL` in its own process group. The kernel sends
//! that signal when the *thread* that forked the child exits, so all children are forked by one
//! keeper thread that lives as long as the process: when the process ends, for whatever reason,
//! the kernel kills its children.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};

type SpawnRequest = (Command, Sender<io::Result<Child>>);

fn keeper() -> &'static Mutex<Sender<SpawnRequest>> {
    static KEEPER: OnceLock<Mutex<Sender<SpawnRequest>>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let (tx, rx) = channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testbed-keeper".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The channel lives in a static and is never closed; should it be, this thread
                // must still not exit, or the kernel would kill every child it forked.
                loop {
                    std::thread::park();
                }
            })
            .expect("start the testbed keeper thread");
        Mutex::new(tx)
    })
}

/// Starts `cmd` as a child that dies with this process, in a process group of its own.
pub fn spawn_owned(mut cmd: Command) -> io::Result<Child> {
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe functions.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then nobody would kill us.
            if libc::getppid() == 1 {
                return Err(io::Error::other("parent exited before the child started"));
            }
            Ok(())
        });
    }
    cmd.process_group(0);
    let (tx, rx) = channel();
    keeper()
        .lock()
        .map_err(|_| io::Error::other("testbed keeper lock poisoned"))?
        .send((cmd, tx))
        .map_err(|_| io::Error::other("testbed keeper thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("testbed keeper thread did not answer"))?
}

/// Kills the child's whole process group and reaps the child.
pub fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: plain syscall; a group that is already gone just returns ESRCH.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether a process with this PID is still running (used to sweep data dirs of dead runs).
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    unsafe { libc::kill(pid, 0) == 0 }
}
