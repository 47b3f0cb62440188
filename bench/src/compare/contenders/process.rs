//! One server process started by `compare`: spawned in a process group of its own, its output
//! in a log file, stopped by pid when it is dropped (at the end, on an error, on Ctrl-C).
//!
//! Why a process group: `kvorum dev` runs each node as a child process. It stops them itself on
//! SIGTERM; should it not within the grace period (or have died first), SIGKILL to its group
//! reaches every node it started and nothing else (a group holds only the processes started
//! from it). Signals go through `nix` (`std` can only SIGKILL its direct child, not a group).

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use kvorum_jepsen::local::log_tail;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// How long `kvorum dev` may take to stop its nodes after SIGTERM (it gives each 10 s itself
/// before its own SIGKILL).
const GRACE: Duration = Duration::from_secs(15);

/// How a server is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL: the server's data is thrown away anyway (redis-server, etcd).
    Kill,
    /// SIGTERM, wait for the process to exit, then SIGKILL to its whole group (`kvorum dev`).
    TermThenKillGroup,
}

/// A running server process.
#[derive(Debug)]
pub struct Server {
    /// For messages: `redis-aof-always`, `etcd e2`, ...
    pub name: String,
    pub log: PathBuf,
    child: Option<Child>,
    pid: u32,
    stop: Stop,
}

impl Server {
    /// Starts `command` with stdin closed and stdout and stderr appended to `log`.
    pub fn spawn(
        name: impl Into<String>,
        mut command: Command,
        log: &Path,
        stop: Stop,
    ) -> anyhow::Result<Server> {
        let name = name.into();
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", command.get_program()))?;
        Ok(Server {
            name,
            log: log.to_owned(),
            pid: child.id(),
            child: Some(child),
            stop,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// How the process ended, if it has: a server must not exit while it is measured.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(status.to_string()),
            Err(e) => Some(format!("cannot be waited for: {e}")),
        }
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Stops the process (see [`Stop`]); a second call does nothing.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        match self.stop {
            Stop::Kill => {
                let _ = child.kill();
            }
            Stop::TermThenKillGroup => {
                // The group leader is not reaped before the group is signalled: while it is
                // unreaped (running or a zombie) its pid, and so the group id, cannot be reused.
                if !has_exited(&child) {
                    signal(Pid::from_raw(self.pid as i32), Signal::SIGTERM);
                    let deadline = Instant::now() + GRACE;
                    while Instant::now() < deadline && !has_exited(&child) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                // A negative pid is the process group: `kvorum dev` and its nodes.
                signal(Pid::from_raw(-(self.pid as i32)), Signal::SIGKILL);
                let _ = child.kill();
            }
        }
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the process has exited (or was reaped already), read from /proc without reaping
/// it: until it is reaped its pid, and so its group id, stays reserved.
fn has_exited(child: &Child) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id()));
    match stat {
        // The state is the field after the command name, which ends at the last ')'.
        Ok(text) => text
            .rfind(')')
            .and_then(|i| text[i + 1..].split_whitespace().next())
            .is_none_or(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

/// Sends `signal` to a pid (a negative one: a process group). Failures are ignored: the target
/// may have exited already, and a stop must go on with the next server.
fn signal(target: Pid, signal: Signal) {
    let _ = nix::sys::signal::kill(target, signal);
}
