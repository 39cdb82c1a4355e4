//! The Python the compatibility tests run: a virtualenv in `target/tmp/py-venv` with
//! `tests/compat/requirements.txt` installed (agno's client, and the other official clients a
//! test drives agentos with). It is made once and reused while the requirements file is
//! unchanged; test binaries that need it at the same time wait for each other.
//!
//! Include it with `#[path = "support/python.rs"] mod python;` (or `../support/python.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// Runs `cmd`; `Err` with its output when it cannot start or exits non-zero.
pub async fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{cmd:?} exited with {}:\n{text}", out.status))
    }
}

/// The requirements file, and a stamp of its text (what the virtualenv was made from).
fn requirements() -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/requirements.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    (path, text)
}

/// Holds `target/tmp/py-venv.lock` while the virtualenv is made: another test binary making it
/// at the same time waits (a stale lock older than ten minutes is taken over).
struct Lock(PathBuf);

impl Lock {
    async fn take(path: PathBuf) -> Lock {
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Lock(path),
                Err(_) => {
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(600));
                    if stale {
                        let _ = std::fs::remove_file(&path);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The virtualenv's python with the requirements installed, made if needed.
pub async fn python() -> Result<PathBuf, String> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let venv = tmp.join("py-venv");
    let python = venv.join("bin").join("python");
    let stamp = venv.join("requirements.stamp");
    let (path, text) = requirements();
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == text) {
        return Ok(python);
    }
    let _lock = Lock::take(tmp.join("py-venv.lock")).await;
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == text) {
        return Ok(python);
    }
    run(Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv))
    .await?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&path))
    .await?;
    std::fs::write(&stamp, &text).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(python)
}

/// [`python`], or, when it cannot be made: a failure under `CI=true`, else `None` after a
/// `SKIPPED <test>` line on stderr (python3 and PyPI are needed).
pub async fn python_or_skip(test: &str) -> Option<PathBuf> {
    match python().await {
        Ok(python) => Some(python),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "{test}: the Python clients could not be installed (python3 and PyPI are needed): {why}"
            )
        }
        Err(why) => {
            // Straight to the process's stderr: the harness captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: the Python clients could not be installed (python3 and PyPI \
                 are needed; under CI=true this fails): {why}"
            );
            None
        }
    }
}
