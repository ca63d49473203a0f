"""A warm Python for the tests' own subprocesses: the same program in a new process, without
paying for its imports again.

Why: a fresh ``python -m seq2seq_es.cli pretrain`` spends about 7 of its 11 seconds importing
torch and transformers (``python -X importtime``, benchmarks/RESULTS.md "The test suite on 2
cores"), and the suite starts over a hundred such processes. Here one server process per test
worker imports them once; every run is a ``fork`` of it, so a new process (its own pid, memory,
exit status and signals, killed as any process is) that starts with those modules loaded.

What a run gets is what ``subprocess.run([sys.executable, ...])`` gives: ``-m module`` or a
script (other interpreter options run cold), its argv, cwd, environment, stdin, stdout and
stderr (the caller's file descriptors, passed over a Unix socket), and the exit status,
negative when a signal ended it. At exit it
joins its threads and runs its atexit handlers as the interpreter does. Python's ``random``
reseeds itself after a fork; numpy's and torch's global generators are the server's, as they
would be the same fixed or unseeded state in a fresh process (every command seeds its own).

When a run cannot be warm it is a real subprocess: another interpreter, or an environment that
differs from the server's in a variable read while the preloaded modules were imported
(``IMPORT_TIME_ENV``). ``WARM_PYTHON=0`` turns the server off.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import runpy
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

# What the server imports before it forks: the stack every CLI command and benchmark loads.
PRELOAD = (
    "torch",
    "transformers",
    "transformers.modeling_utils",
    "accelerate",
    "seq2seq_es.commands.base",  # not seq2seq_es.cli: ``-m`` runs a module not yet imported
    "seq2seq_es.models.loading",
    "seq2seq_es.training.loop",
)
# Read while those modules are imported (thread counts, caches and hub settings, library
# paths), so a run whose value differs from the server's must start fresh. Not among them:
# TOKENIZERS_PARALLELISM, read by each parallel call of the tokenizers library.
IMPORT_TIME_ENV = (
    "OMP_", "MKL_", "KMP_", "GOMP_", "OPENBLAS_", "TORCH", "PYTORCH_", "CUDA_", "HF_",
    "HUGGINGFACE_", "TRANSFORMERS_", "ACCELERATE_", "NUMBA_", "PYTHON",
    "LD_", "HOME", "XDG_", "TMPDIR", "USE_",
)  # fmt: skip
FD_COUNT = 3  # stdin, stdout, stderr
WORKER = Path(__file__).with_name("warm_worker.py")


# What torchrun sets for its workers, read when the process group starts, not at import.
RUN_TIME_ENV = ("TORCHELASTIC_", "TORCH_NCCL_")


def import_time_env(env: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in env.items()
        if k.startswith(IMPORT_TIME_ENV) and not k.startswith(RUN_TIME_ENV)
    }


# -- the server -------------------------------------------------------------------------------


def serve(path: str) -> None:
    """Preload, listen on the Unix socket ``path``, fork a child per request; exit when the
    test worker that started it is gone (it can die without stopping the server)."""
    worker = os.getppid()
    for module in PRELOAD:
        __import__(module)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # the client waits for the name: listening means ready
    listener.listen(64)
    listener.settimeout(1.0)
    while True:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != worker:
                os._exit(0)
            continue
        connection.settimeout(None)
        message, fds, _, _ = socket.recv_fds(connection, 1 << 20, FD_COUNT)
        request = json.loads(message)
        if import_time_env(request["env"]) != import_time_env(os.environ):
            for fd in fds:
                os.close(fd)
            connection.sendall(struct.pack("!i", -1))  # not warm: the client starts it fresh
            connection.close()
            continue
        pid = os.fork()
        if pid == 0:
            listener.close()
            connection.close()
            run_child(request, fds)  # never returns
        for fd in fds:
            os.close(fd)
        connection.sendall(struct.pack("!i", pid))
        threading.Thread(target=report_exit, args=(connection, pid), daemon=True).start()


def report_exit(connection: socket.socket, pid: int) -> None:
    """Send the child's exit status to its client; kill the child if the client goes first (a
    torchrun that SIGKILLs ``warm_worker.py`` must not leave its worker running)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            with contextlib.suppress(OSError):
                connection.sendall(struct.pack("!i", os.waitstatus_to_exitcode(status)))
            break
        readable, _, _ = select.select([connection], [], [], 0.1)
        if readable and not connection.recv(1):  # the client closed its end
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
    connection.close()


def run_child(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the requested program, then exit like the interpreter."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.setpgrp()  # its own process group, as the tests' subprocesses are not the server's
    for number in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv: list[str] = request["argv"]
    code = 0
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            sys.path[0] = request["cwd"]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            sys.path[0] = str(Path(argv[0]).resolve().parent)
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as stop:
        code = exit_code(stop.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = -signal.SIGINT
    except BaseException:
        traceback.print_exc()
        code = 1
    with contextlib.suppress(BaseException):
        threading._shutdown()  # type: ignore[attr-defined]  # join threads, as at exit
        atexit._run_exitfuncs()
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
        sys.stderr.flush()
    if code < 0:  # ended by KeyboardInterrupt: die of SIGINT, as the interpreter does
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)


def exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


# -- the client -------------------------------------------------------------------------------


class Server:
    """One warm server: its process and the folder of its socket."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="warm-python-")
        self.socket = str(Path(self.folder.name) / "socket")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "serve", self.socket],
            env=dict(env),
            # nothing of the worker's: a pipe held open would keep its reader waiting
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while not Path(self.socket).exists() and self.up() and time.monotonic() < deadline:
            time.sleep(0.05)

    def up(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.up():
            self.process.kill()
            self.process.wait()
        self.folder.cleanup()


class WarmPython:
    """The test worker's servers, one per environment that the preloaded modules read at
    import (at most ``MAX_SERVERS``), each started at first use and stopped at exit."""

    MAX_SERVERS = 3

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[tuple[tuple[str, str], ...], Server] = {}
        atexit.register(self.stop)

    def socket_for(self, env: Mapping[str, str]) -> str | None:
        """The socket of the server for ``env``, or None without one."""
        if os.environ.get("WARM_PYTHON", "1") == "0":
            return None
        key = tuple(sorted(import_time_env(env).items()))
        with self._lock:
            if key not in self._servers and len(self._servers) < self.MAX_SERVERS:
                self._servers[key] = Server(env)
            server = self._servers.get(key)
            if server is None or not server.up() or not Path(server.socket).exists():
                return None
            return server.socket

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()


WARM = WarmPython()


class WarmProcess:
    """A forked run: ``pid``, ``wait()``, ``returncode``, ``send_signal`` and ``kill``, as
    ``subprocess.Popen``'s."""

    def __init__(self, connection: socket.socket, pid: int) -> None:
        self._connection = connection
        self.pid = pid
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._connection.settimeout(timeout)
            try:
                data = self._connection.recv(4)
            except TimeoutError:
                raise subprocess.TimeoutExpired("warm python", timeout or 0) from None
            self._connection.close()
            (self.returncode,) = struct.unpack("!i", data)
        return self.returncode

    def poll(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.wait(timeout=0.001)
        return None

    def send_signal(self, number: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def start(
    argv: Sequence[str],
    stdin: int,
    stdout: int,
    stderr: int,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> WarmProcess | None:
    """Fork ``python *argv`` (``-m module ...`` or ``script ...``) from the warm server with
    these file descriptors; None when it cannot be warm (start it as a subprocess then)."""
    env = dict(os.environ if env is None else env)
    path = WARM.socket_for(env)
    return None if path is None else start_at(path, argv, (stdin, stdout, stderr), env, cwd)


def start_at(
    path: str,
    argv: Sequence[str],
    fds: tuple[int, int, int],
    env: Mapping[str, str],
    cwd: str | Path | None = None,
) -> WarmProcess | None:
    """``start`` on the server listening at ``path`` (``warm_worker.py`` has no ``WARM``)."""
    request = {"argv": list(argv), "env": dict(env), "cwd": str(cwd or os.getcwd())}
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
        socket.send_fds(connection, [json.dumps(request).encode()], list(fds))
        (pid,) = struct.unpack("!i", connection.recv(4))
    except (OSError, struct.error):  # the server is gone
        connection.close()
        return None
    if pid == -1:
        connection.close()
        return None
    return WarmProcess(connection, pid)


def run(
    command: Sequence[str],
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(command, capture_output=True, text=True, ...)``, warm when ``command``
    is ``[sys.executable, ...]`` and the environment allows it."""
    if command[0] != sys.executable or (command[1].startswith("-") and command[1] != "-m"):
        return cold(command, input, env, cwd, timeout, check)
    with captured() as (stdin, stdout, stderr):
        if input is not None:
            stdin.write(input.encode())
            stdin.flush()
            stdin.seek(0)
        process = start(command[1:], stdin.fileno(), stdout.fileno(), stderr.fileno(), env, cwd)
        if process is None:
            return cold(command, input, env, cwd, timeout, check)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise subprocess.TimeoutExpired(command, timeout or 0) from None
        out, err = (read_text(f) for f in (stdout, stderr))
    done = subprocess.CompletedProcess(list(command), code, out, err)
    if check:
        done.check_returncode()
    return done


def run_launched(
    launcher: Sequence[str], program: Sequence[str], env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``launcher`` (torchrun) running ``program`` (``-m module ...`` or ``script ...``) in each
    of its workers, as ``run([*launcher, *program])``: torchrun is forked from the warm server
    and each worker is, through ``warm_worker.py``."""
    path = WARM.socket_for(env)
    if path is None:
        return run([*launcher, *program], env=env, timeout=timeout)
    worker_env = {**env, "WARM_PYTHON_SOCKET": path}
    return run([*launcher, str(WORKER), *program], env=worker_env, timeout=timeout)


def popen_quiet(
    command: Sequence[str], env: Mapping[str, str] | None = None
) -> WarmProcess | subprocess.Popen[bytes]:
    """``subprocess.Popen(command, stdin, stdout and stderr: /dev/null)``, warm when it can be:
    for a run that a test watches and signals."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        if command[0] == sys.executable:
            process = start(command[1:], null, null, null, env)
            if process is not None:
                return process
        return subprocess.Popen(
            list(command),
            stdin=null,
            stdout=null,
            stderr=null,
            env=None if env is None else dict(env),
        )
    finally:
        os.close(null)


def cold(
    command: Sequence[str],
    input: str | None,
    env: Mapping[str, str] | None,
    cwd: str | Path | None,
    timeout: float | None,
    check: bool,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        input=input,
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        cwd=cwd,
        timeout=timeout,
        check=check,
    )


@contextlib.contextmanager
def captured() -> Iterator[tuple[IO[bytes], IO[bytes], IO[bytes]]]:
    """Anonymous files for a run's stdin, stdout and stderr (no pipe to drain meanwhile)."""
    with (
        tempfile.TemporaryFile() as stdin,
        tempfile.TemporaryFile() as stdout,
        tempfile.TemporaryFile() as stderr,
    ):
        yield stdin, stdout, stderr


def read_text(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", errors="replace")


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(sys.argv[2])
