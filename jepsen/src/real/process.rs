//! Node processes: started as children of the harness inside a node's network namespace, and
//! signalled by their pid only (never by name, so nothing else on the machine is touched).
//!
//! A node runs as `ip netns exec <ns> <program> <args…>`. iproute2 switches namespaces and then
//! *execs the program in place* (it forks only in `-batch` mode), so the child's pid is the
//! program's own pid and SIGKILL/SIGSTOP/SIGCONT reach the program itself, not a wrapper.
//! [`NodeProcess::spawn`] does not take that on trust: it waits until `/proc/<pid>/exe` is the
//! program, and fails with [`ProcessError::NotExecInPlace`] if it never becomes so.
//!
//! Signalling by pid is safe from pid reuse because the harness is the parent: a child that has
//! exited stays a zombie, holding its pid, until the harness reaps it, and every path that reaps
//! also forgets the pid.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long `spawn` waits for `ip netns exec` to become the program.
const EXEC_TIMEOUT: Duration = Duration::from_secs(5);
/// How often exits and process states are polled.
const POLL: Duration = Duration::from_millis(5);
/// The line written into the log before each restart.
pub const RESTART_SEPARATOR: &str = "--- restarted ---";

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot start `{command}`: {source}")]
    Spawn { command: String, source: io::Error },
    #[error("cannot send {signal} to pid {pid}: {source}")]
    Signal {
        pid: u32,
        signal: &'static str,
        source: Errno,
    },
    #[error("the process is not running")]
    NotRunning,
    #[error("the process is still running (pid {pid})")]
    AlreadyRunning { pid: u32 },
    #[error("`{command}` exited as it started ({status}); its output is in {log}")]
    ExitedAtStart {
        command: String,
        status: String,
        log: PathBuf,
    },
    #[error(
        "pid {pid} did not become {program} within {EXEC_TIMEOUT:?} (it runs {exe}): `ip netns \
         exec` did not exec in place, so signals by pid would miss the program"
    )]
    NotExecInPlace {
        pid: u32,
        program: PathBuf,
        exe: String,
    },
    #[error("pid {pid} is not {what} (state {state:?})")]
    NotVerified {
        pid: u32,
        what: String,
        state: Option<char>,
    },
    #[error("self-test: {0}")]
    SelfTest(String),
    #[error("I/O error while {context}: {source}")]
    Io { context: String, source: io::Error },
}

/// A node process started inside a namespace as a child of this process, stdin null, stdout and
/// stderr appended to a log file.
#[derive(Debug)]
pub struct NodeProcess {
    /// The program, resolved to its canonical path (what `/proc/<pid>/exe` shows).
    program: PathBuf,
    args: Vec<OsString>,
    ns: String,
    log: PathBuf,
    /// The running (or exited but not yet reaped) child; `None` once reaped.
    child: Option<Child>,
    /// How the last run ended when it ended without our kill or terminate.
    unexpected: Option<String>,
}

impl NodeProcess {
    /// `ip netns exec <ns> <binary> server --config <config>`, output appended to `log`.
    pub fn start(
        binary: &Path,
        ns: &str,
        config: &Path,
        log: &Path,
    ) -> Result<NodeProcess, ProcessError> {
        let args = [
            OsString::from("server"),
            OsString::from("--config"),
            config.as_os_str().to_owned(),
        ];
        NodeProcess::spawn(binary, &args, ns, log)
    }

    /// The general form of [`NodeProcess::start`]: `ip netns exec <ns> <program> <args…>`.
    /// `program` must be an executable file (not a script: its pid would show the interpreter),
    /// given as a path or as a name looked up in `PATH`.
    pub fn spawn(
        program: &Path,
        args: &[OsString],
        ns: &str,
        log: &Path,
    ) -> Result<NodeProcess, ProcessError> {
        let mut process = NodeProcess {
            program: resolve_program(program)?,
            args: args.to_vec(),
            ns: ns.to_string(),
            log: log.to_path_buf(),
            child: None,
            unexpected: None,
        };
        process.launch()?;
        Ok(process)
    }

    /// The command line, for logs.
    pub fn command_line(&self) -> String {
        let mut words = vec![
            "ip".to_string(),
            "netns".to_string(),
            "exec".to_string(),
            self.ns.clone(),
            self.program.display().to_string(),
        ];
        words.extend(
            self.args
                .iter()
                .map(|arg| arg.to_string_lossy().into_owned()),
        );
        words.join(" ")
    }

    /// The pid while a child is held (`None` once it has been reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process still runs; reaps (and remembers) an exit.
    pub fn is_running(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        let ended = match child.try_wait() {
            Ok(None) => return true,
            Ok(Some(status)) => describe(status),
            Err(err) => format!("could not be waited for: {err}"),
        };
        self.unexpected = Some(ended);
        self.child = None;
        false
    }

    /// SIGKILL by pid, then reap. Works on a paused process. [`ProcessError::NotRunning`] if it
    /// had already exited (see [`NodeProcess::unexpected_exit`]).
    pub fn kill(&mut self) -> Result<(), ProcessError> {
        if !self.is_running() {
            return Err(ProcessError::NotRunning);
        }
        let status = self.kill_and_reap()?;
        if status.signal() != Some(Signal::SIGKILL as i32) {
            // It ended on its own just before the signal.
            self.unexpected = Some(describe(status));
        }
        Ok(())
    }

    /// SIGSTOP: the process stops running but keeps its sockets; peers see it as slow.
    /// Read back: the process is seen stopped (`T` in `/proc/<pid>/stat`) before this returns.
    pub fn pause(&self) -> Result<(), ProcessError> {
        self.signal(Signal::SIGSTOP)?;
        self.verify_state("T", "stopped after SIGSTOP")
    }

    /// SIGCONT.
    /// Read back: the process is seen running or sleeping, not stopped, before this returns.
    pub fn resume(&self) -> Result<(), ProcessError> {
        self.signal(Signal::SIGCONT)?;
        self.verify_state("RSD", "running again after SIGCONT")
    }

    fn verify_state(&self, states: &str, what: &str) -> Result<(), ProcessError> {
        let pid = self.pid().ok_or(ProcessError::NotRunning)?;
        if wait_for_state(pid, states) {
            Ok(())
        } else {
            Err(ProcessError::NotVerified {
                pid,
                what: what.to_owned(),
                state: process_state(pid),
            })
        }
    }

    /// Starts the program again with the same namespace, arguments and log (appended, after a
    /// line [`RESTART_SEPARATOR`]). Forgets the previous unexpected exit.
    pub fn restart(&mut self) -> Result<(), ProcessError> {
        if self.is_running() {
            return Err(ProcessError::AlreadyRunning {
                pid: self.pid().unwrap_or_default(),
            });
        }
        let mut log = open_log(&self.log)?;
        writeln!(log, "{RESTART_SEPARATOR}").map_err(|source| ProcessError::Io {
            context: format!("writing to {}", self.log.display()),
            source,
        })?;
        self.unexpected = None;
        self.launch()
    }

    /// SIGCONT (a paused process cannot act on SIGTERM), SIGTERM, up to `grace` to exit, then
    /// SIGKILL. Does nothing if the process is not running.
    pub fn terminate(&mut self, grace: Duration) -> Result<(), ProcessError> {
        if !self.is_running() {
            return Ok(());
        }
        self.signal(Signal::SIGCONT)?;
        self.signal(Signal::SIGTERM)?;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            let Some(child) = self.child.as_mut() else {
                return Ok(());
            };
            match child.try_wait() {
                Ok(Some(_)) => {
                    self.child = None;
                    return Ok(());
                }
                Ok(None) => std::thread::sleep(POLL),
                Err(_) => break,
            }
        }
        self.kill_and_reap().map(drop)
    }

    /// How the process ended, if it ended on its own (not by [`NodeProcess::kill`] or
    /// [`NodeProcess::terminate`]): lets the runner report a crashed node.
    pub fn unexpected_exit(&mut self) -> Option<String> {
        self.is_running();
        self.unexpected.clone()
    }

    /// Spawns the child and waits until it has become the program.
    fn launch(&mut self) -> Result<(), ProcessError> {
        let command = self.command_line();
        let stdout = open_log(&self.log)?;
        let stderr = stdout.try_clone().map_err(|source| ProcessError::Io {
            context: format!("duplicating the handle of {}", self.log.display()),
            source,
        })?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|source| ProcessError::Spawn {
                command: command.clone(),
                source,
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + EXEC_TIMEOUT;
        loop {
            let Some(child) = self.child.as_mut() else {
                return Err(ProcessError::NotRunning);
            };
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(ProcessError::ExitedAtStart {
                    command,
                    status: describe(status),
                    log: self.log.clone(),
                });
            }
            let pid = child.id();
            let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
            if exe.as_deref().ok() == Some(self.program.as_path()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let exe = match exe {
                    Ok(path) => path.display().to_string(),
                    Err(err) => format!("unknown: {err}"),
                };
                // Best effort: the wrapper is our child, so stop it before reporting.
                let _ = self.kill_and_reap();
                return Err(ProcessError::NotExecInPlace {
                    pid,
                    program: self.program.clone(),
                    exe,
                });
            }
            std::thread::sleep(POLL);
        }
    }

    fn signal(&self, signal: Signal) -> Result<(), ProcessError> {
        let pid = self.pid().ok_or(ProcessError::NotRunning)?;
        send(pid, signal)
    }

    /// SIGKILL and wait; the child is forgotten whatever happens.
    fn kill_and_reap(&mut self) -> Result<ExitStatus, ProcessError> {
        let Some(mut child) = self.child.take() else {
            return Err(ProcessError::NotRunning);
        };
        let pid = child.id();
        let sent = send(pid, Signal::SIGKILL);
        let status = child.wait().map_err(|source| ProcessError::Io {
            context: format!("waiting for pid {pid}"),
            source,
        })?;
        sent.map(|()| status)
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            if let Err(err) = self.kill_and_reap() {
                eprintln!("could not stop `{}`: {err}", self.command_line());
            }
        }
    }
}

/// Starts `sleep` in namespace `ns` with output to `log`, and checks what the runner relies on:
/// the pid is the program itself, pause stops it, resume runs it, kill ends and reaps it (also
/// when paused), restart runs it again, an exit on its own is reported, terminate ends it.
/// Returns one line per check.
pub fn self_test(ns: &str, log: &Path) -> Result<Vec<String>, ProcessError> {
    let mut lines = Vec::new();
    let mut check = |what: &str, ok: bool| -> Result<(), ProcessError> {
        if ok {
            lines.push(format!("ok: {what}"));
            Ok(())
        } else {
            Err(ProcessError::SelfTest(what.to_string()))
        }
    };
    let mut node = NodeProcess::spawn(Path::new("sleep"), &["30".into()], ns, log)?;
    let pid = node.pid().ok_or(ProcessError::NotRunning)?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    check(
        &format!(
            "pid {pid} in {ns} is the program itself ({})",
            node.program.display()
        ),
        exe.as_deref() == Some(node.program.as_path()),
    )?;
    node.pause()?;
    check("SIGSTOP stops the process", wait_for_state(pid, "T"))?;
    node.resume()?;
    check("SIGCONT lets it run again", wait_for_state(pid, "SR"))?;
    node.pause()?;
    node.kill()?;
    check(
        "SIGKILL ends a paused process and it is reaped, not reported as a crash",
        !node.is_running() && node.pid().is_none() && node.unexpected_exit().is_none(),
    )?;
    node.restart()?;
    check(
        "restart runs it again under a new pid",
        node.is_running() && node.pid().is_some_and(|new| new != pid),
    )?;
    let restarted = node.pid().ok_or(ProcessError::NotRunning)?;
    // Someone else's SIGKILL stands for a crash: not ours, so it must be reported.
    send(restarted, Signal::SIGKILL)?;
    let deadline = Instant::now() + EXEC_TIMEOUT;
    while node.is_running() && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    check(
        "an exit the harness did not cause is reported",
        node.unexpected_exit().is_some(),
    )?;
    node.restart()?;
    node.pause()?;
    node.terminate(Duration::from_secs(2))?;
    check(
        "terminate ends a paused process",
        !node.is_running() && node.unexpected_exit().is_none(),
    )?;
    let text = std::fs::read_to_string(log).map_err(|source| ProcessError::Io {
        context: format!("reading {}", log.display()),
        source,
    })?;
    check(
        "restarts are marked in the log",
        text.matches(RESTART_SEPARATOR).count() >= 2,
    )?;
    Ok(lines)
}

/// Polls `/proc/<pid>/stat` until the state letter is one of `states` (up to a second).
fn wait_for_state(pid: u32, states: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if process_state(pid).is_some_and(|state| states.contains(state)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// The state letter of `/proc/<pid>/stat` (the field after the parenthesised command name).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.trim_start().chars().next()
}

fn send(pid: u32, signal: Signal) -> Result<(), ProcessError> {
    let error = |source| ProcessError::Signal {
        pid,
        signal: signal.as_str(),
        source,
    };
    let raw = i32::try_from(pid).map_err(|_| error(Errno::ESRCH))?;
    kill(Pid::from_raw(raw), signal).map_err(error)
}

/// "exit status: 1", "signal: 9 (SIGKILL)".
fn describe(status: ExitStatus) -> String {
    status.to_string()
}

fn open_log(log: &Path) -> Result<File, ProcessError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|source| ProcessError::Io {
            context: format!("opening {}", log.display()),
            source,
        })
}

/// The canonical path of `program`: as given if it has a directory part, else the first
/// executable of that name in `PATH` (what `execvp` would pick).
fn resolve_program(program: &Path) -> Result<PathBuf, ProcessError> {
    let not_found = |source| ProcessError::Spawn {
        command: program.display().to_string(),
        source,
    };
    let found = if program.components().count() > 1 {
        program.to_path_buf()
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| is_executable(candidate))
            .ok_or_else(|| {
                not_found(io::Error::new(
                    io::ErrorKind::NotFound,
                    "no such program in PATH",
                ))
            })?
    };
    found.canonicalize().map_err(not_found)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_resolve_through_path_like_execvp() {
        let sleep = resolve_program(Path::new("sleep"));
        assert!(sleep.is_ok_and(|path| path.is_absolute() && is_executable(&path)));
        assert!(matches!(
            resolve_program(Path::new("kvorum-no-such-program")),
            Err(ProcessError::Spawn { .. })
        ));
        assert!(resolve_program(Path::new("./kvorum-no-such-program")).is_err());
    }

    #[test]
    fn the_state_letter_follows_the_command_name() {
        // Our own process is running or sleeping, never stopped.
        let state = process_state(std::process::id());
        assert!(state.is_some_and(|s| "RS".contains(s)), "{state:?}");
    }
}
