"""Child processes of the fault suite: started, watched by their health URL, killed with
SIGKILL, started again; and a disk that fills up (a small tmpfs)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


class Service:
    """One ``serialtrace …`` process (the trace server, the edge agent); its output goes to
    ``log``, and it is up when ``health_url`` answers 200."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        health_url: str,
        env: Mapping[str, str] | None = None,
        ready: tuple[int, ...] = (200,),
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.health_url = health_url
        self.env = {**os.environ, **(env or {})}
        self.ready = ready
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 180.0) -> None:
        """Start it and wait until its health URL answers (any of ``ready``)."""
        if self.alive:
            return
        self.spawn()
        self.wait_ready(timeout)

    def spawn(self) -> None:
        """Start the process (if it is not running) without waiting for it to come up: two
        services spawned one after the other start side by side (:meth:`wait_ready`)."""
        if self.alive:
            return
        with open(self.log, "ab") as out:  # the child keeps its own copy of the descriptor
            out.write(f"\n===== start {self.starts + 1} at {time.time():.3f}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env
            )
        self.starts += 1

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Wait until the spawned process's health URL answers (any of ``ready``);
        RuntimeError if it exits meanwhile, TimeoutError (and killed) if it does not answer
        within ``timeout``."""
        if self.process is None:
            raise RuntimeError(f"{self.name} was not started")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} while starting:\n"
                    + self.tail()
                )
            try:
                if httpx.get(self.health_url, timeout=2).status_code in self.ready:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()  # not left running behind the error
        raise TimeoutError(f"{self.name} did not come up within {timeout} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last words (the broker still sends its last will)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait; SIGKILL if it does not end within ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, size: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-size:]
        except OSError:
            return ""


class SmallDisk:
    """A tmpfs of ``size_mb`` mounted on ``folder`` (needs root: ``mount -t tmpfs``): a real
    file system that really runs full. :meth:`fill` takes all its free space with a filler
    file; :meth:`free` deletes it."""

    def __init__(self, folder: Path, size_mb: int = 64) -> None:
        self.folder = folder
        self.size_mb = size_mb
        self.mounted = False
        self.filler = folder / ".filler"

    @staticmethod
    def available() -> str | None:
        """None if a tmpfs can be mounted here, else why not."""
        if os.geteuid() != 0:
            return "mounting a tmpfs needs root"
        return None

    def mount(self) -> SmallDisk:
        self.folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0700", "tmpfs", self.folder],
            check=True,
            capture_output=True,
            timeout=30,
        )
        self.mounted = True
        return self

    def fill(self) -> int:
        """Write until the file system refuses (ENOSPC); the bytes written."""
        written = 0
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 20, 1 << 12):  # megabytes, then the last pages
                block = b"\0" * size
                for _ in range((self.size_mb << 20) // size + 16):  # bounded: more than fits
                    try:
                        count = os.write(descriptor, block)
                    except OSError:
                        break
                    written += count
                    if count < size:
                        break
        finally:
            os.close(descriptor)
        return written

    def free_bytes(self) -> int:
        stat = os.statvfs(self.folder)
        return stat.f_bavail * stat.f_frsize

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", self.folder], capture_output=True, timeout=30)
            self.mounted = False
