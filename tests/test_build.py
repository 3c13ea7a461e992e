"""The build's own pieces: scripts/ensure-system-deps, which `make test` runs before the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "scripts" / "ensure-system-deps"
NEEDS = {"usr/bin/chromium": "chromium", "usr/share/fonts/truetype/dejavu/DejaVuSans.ttf": "fonts-dejavu-core"}


def _run(root: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """The script against a machine whose files are under ``root``, with no apt-get on the PATH (so that it
    never installs anything here, root or not)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("bash", "id", "sed"):
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {"PATH": str(bin_dir), "ENSURE_ROOT": str(root), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run([str(bin_dir / "bash"), str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=30)


def _machine(tmp_path: Path, present: list[str]) -> Path:
    root = tmp_path / "root"
    for name in present:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    root.mkdir(exist_ok=True)
    return root


def test_nothing_missing_says_nothing(tmp_path):
    done = _run(_machine(tmp_path, list(NEEDS)), tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_what_is_missing_is_one_line_naming_the_packages(tmp_path):
    done = _run(_machine(tmp_path, []), tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line == ("make test: needs Chromium for the browser tests and the DejaVu fonts for the browser tests: "
                    "run 'sudo apt-get install chromium fonts-dejavu-core' (Debian/Ubuntu), or 'make test-fast' "
                    "to skip them")
    done = _run(_machine(tmp_path / "fonts-only", ["usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]), tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["make test: needs Chromium for the browser tests: run 'sudo apt-get install "
                                        "chromium' (Debian/Ubuntu), or 'make test-fast' to skip them"]
