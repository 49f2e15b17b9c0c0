"""A parent that has imported every service once and forks each service process a test
starts.

A service process costs a fresh interpreter about two seconds of CPU before it does any
work, nearly all of it importing (grpc, SQLAlchemy, Alembic, OpenTelemetry, redis,
jsonschema); the end-to-end tests start several hundred. Forked from this parent, a child
runs the service's real `python -m credit_<service>` entry point (`runpy`, as `-m` does)
with its own environment, arguments and log file: a real, separate process that tests
signal, kill and restart as before, started without the imports.

The parent only imports: it creates no gRPC channel, event loop or thread before it
forks, so the children start from a clean state. It serves requests on a Unix socket,
one JSON line each: `start` (fork a child; its pid comes back) and `status` (the child's
exit status once it has exited, as `subprocess.Popen.returncode` gives it: negative for a
signal). The test side is `ZygoteClient`; `ForkedProcess` is its `Popen` lookalike.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

SERVICES = ("credit_registry", "credit_records", "credit_lists", "credit_objections")


def _child(request: dict[str, Any]) -> NoReturn:
    """In the forked child: become `python -m module`. What the module raises, the
    interpreter handles as it would for `python -m` (through the zygote's frames, which
    hold nothing to undo): exit status, traceback, threads joined, atexit handlers run."""
    try:
        fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = [request["module"], *request["argv"]]
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    sys.exit(0)


def serve(path: str) -> None:
    import importlib

    for module in SERVICES:
        importlib.import_module(f"{module}.__main__")
        # What it imported stays; the entry point itself runs afresh in each child.
        del sys.modules[f"{module}.__main__"]
    exited: dict[int, int] = {}

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            exited[pid] = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    listener.settimeout(1)
    parent = os.getppid()
    print("ready", flush=True)
    while True:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test session is gone
                return
            continue
        with connection, connection.makefile("rwb") as stream:
            line = stream.readline()
            if not line:
                continue
            request = json.loads(line)
            reap()
            if request["op"] == "start":
                pid = os.fork()
                if pid == 0:
                    stream.close()
                    connection.close()
                    listener.close()
                    _child(request)
                exited.pop(pid, None)  # a pid the system gave out again
                reply: dict[str, Any] = {"pid": pid}
            elif request["op"] == "status":
                reply = {"returncode": exited.get(request["pid"])}
            else:
                reply = {"error": f"unknown op {request['op']!r}"}
            stream.write(json.dumps(reply).encode() + b"\n")
            stream.flush()


class ZygoteClient:
    """Starts the parent (one per test session) and asks it for children."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = str(directory / "zygote.sock")
        self.log = directory / "zygote.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, __file__, self.path],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while "ready" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the zygote did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.path)
            with s.makefile("rwb") as stream:
                stream.write(json.dumps(request).encode() + b"\n")
                stream.flush()
                reply: dict[str, Any] = json.loads(stream.readline())
        return reply

    def start(self, module: str, argv: list[str], env: dict[str, str], log: Path) -> ForkedProcess:
        reply = self.ask(
            {
                "op": "start",
                "module": module,
                "argv": argv,
                "env": env,
                "log": str(log),
                "cwd": os.getcwd(),
            }
        )
        return ForkedProcess(self, int(reply["pid"]))

    def close(self) -> None:
        """Ends the parent (its children are the tests' to stop) and removes its socket
        and log."""
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


class ForkedProcess:
    """What tests use of `subprocess.Popen`, for a child of the zygote."""

    def __init__(self, zygote: ZygoteClient, pid: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.ask({"op": "status", "pid": self.pid})["returncode"]
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


if __name__ == "__main__":
    serve(sys.argv[1])
