"""The CLI beside a running server: `ersattning serve` listens on a Unix socket beside its database
and runs the CLI commands sent there on its own open connection; the CLI sends a command there
when a server serves the database it names, and prints what the server streams back.

DuckDB lets one process write a database file, and the server is that process, so a command for
its file has to run inside it. The socket (`socket_path`) is `<database>.sock` beside the file,
or, when that path is longer than a Unix socket's address allows, `/tmp/ersattning-<uid>/<hash of
the database's real path>.sock`. It is created with mode 0600 and the server runs a command only
for a peer of its own uid (SO_PEERCRED): the user who owns the database anyway. The client checks
the server's uid in the same way before it sends anything.

The wire: one JSON line from the client (argv, cwd, login name, the client's terminal), then JSON
lines from the server ({"o": text} stdout, {"e": text} stderr, finally {"exit": code}).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
import os
import socket
import stat
import struct
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from ersattning.errors import ErsattningError

SUFFIX = ".sock"
MAX_PATH = 100  # bytes: Linux allows 107 in sun_path, macOS 103; this leaves a margin
MAX_REQUEST = 1 << 20  # one request line (argv and all); a longer one is refused
PROTOCOL = 1


def socket_path(db) -> Path:
    """Where the server of database file `db` listens (see the module's docstring for the rule)."""
    real = os.path.realpath(db)
    beside = Path(real + SUFFIX)
    if len(os.fsencode(beside)) <= MAX_PATH:
        return beside
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:32]
    return Path("/tmp") / f"ersattning-{os.getuid()}" / f"{digest}{SUFFIX}"


def _peer_uid(sock: socket.socket) -> int:
    pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def supported() -> bool:
    """Unix sockets with peer credentials (Linux): elsewhere the CLI and the server stay apart."""
    return hasattr(socket, "AF_UNIX") and hasattr(socket, "SO_PEERCRED")


# --- the client (the CLI) ------------------------------------------------------------------------

def _connect(db) -> socket.socket | None:
    """A connection to the live server of `db`, or None when none listens (no socket file, or a
    stale one a stopped server left: nobody answers it)."""
    if not supported():
        return None
    path = socket_path(db)
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return None
    except OSError:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:  # refused: a stale socket; the database is not served
        sock.close()
        return None
    if _peer_uid(sock) != os.getuid():
        sock.close()
        raise ErsattningError(f"{path} is served by another user: not sending the command there")
    return sock


def _console_info(stderr: bool) -> dict:
    """What the client's terminal is like, so that the server's output is laid out the same."""
    from rich.console import Console

    c = Console(stderr=stderr)
    return {"width": c.width, "height": c.height, "terminal": c.is_terminal, "interactive": c.is_interactive,
            "color_system": c.color_system, "no_color": c.no_color}


def _request(sock: socket.socket, request: dict):
    """Send `request`; yield the server's replies (dicts) until it closes."""
    f = sock.makefile("rwb")
    f.write(json.dumps(request).encode() + b"\n")
    f.flush()
    for line in f:
        yield json.loads(line)


def live_server(db) -> int | None:
    """The process id of the server that serves `db`, if one listens."""
    sock = _connect(db)
    if sock is None:
        return None
    with sock:
        for reply in _request(sock, {"op": "ping", "protocol": PROTOCOL}):
            return reply.get("pid")
    return None


def forward(db, argv: list[str], prog_name: str) -> int | None:
    """Run the command `argv` in the server of `db` and print its output here; its exit code, or
    None when no server serves `db` (then the caller runs the command itself)."""
    sock = _connect(db)
    if sock is None:
        return None
    from ersattning.store import login_name

    request = {"op": "run", "protocol": PROTOCOL, "db": os.path.realpath(db), "argv": list(argv), "prog_name": prog_name,
               "cwd": os.getcwd(), "user": login_name(), "out": _console_info(False), "err": _console_info(True)}
    with sock:
        try:
            for reply in _request(sock, request):
                if "o" in reply:
                    sys.stdout.write(reply["o"])
                    sys.stdout.flush()
                elif "e" in reply:
                    sys.stderr.write(reply["e"])
                    sys.stderr.flush()
                elif "exit" in reply:
                    return int(reply["exit"])
        except BrokenPipeError:
            # Our reader went away (`| head`): as click does, stop quietly with 1; the server
            # finishes the command without us.
            import click.utils

            sys.stdout = click.utils.PacifyFlushWrapper(sys.stdout)
            sys.stderr = click.utils.PacifyFlushWrapper(sys.stderr)
            return 1
    sys.stderr.write("error: the server stopped before the command finished (see `ersattning jobs` for its outcome)\n")
    return 1


# --- what a command run for a client prints to ---------------------------------------------------

@dataclass
class _Client:
    out: object  # rich Console
    err: object
    stdout: "_Channel"
    stderr: "_Channel"


_client: contextvars.ContextVar[_Client | None] = contextvars.ContextVar("client", default=None)


def forwarded() -> bool:
    """Whether the command running now was sent by a client to this server."""
    return _client.get() is not None


class RoutedConsole:
    """A Rich console that prints to the client of the command being run for it (in the server),
    else to `local`: the CLI's module-level consoles are these."""

    def __init__(self, local, stderr: bool = False):
        self._local, self._stderr = local, stderr

    def _target(self):
        client = _client.get()
        if client is None:
            return self._local
        return client.err if self._stderr else client.out

    def __getattr__(self, name):
        return getattr(self._target(), name)

    # Dunder methods are looked up on the type, not through __getattr__: Rich's live displays
    # (Progress, status) enter the console as a context manager.
    def __enter__(self):
        return self._target().__enter__()

    def __exit__(self, *exc):
        return self._target().__exit__(*exc)


class _Switch(io.TextIOBase):
    """sys.stdout or sys.stderr in the server: the client's channel in the thread that runs its
    command (click and typer print there: usage errors, help), the server's own stream elsewhere."""

    def __init__(self, local, which: str):
        self._local, self._which = local, which

    def _target(self):
        client = _client.get()
        return self._local if client is None else getattr(client, self._which)

    def write(self, text):
        return self._target().write(text)

    def flush(self):
        return self._target().flush()

    def isatty(self):
        return self._target().isatty()

    def fileno(self):
        return self._target().fileno()

    def writable(self):
        return True

    def __getattr__(self, name):
        return getattr(self._target(), name)


class _Wire:
    """The server's side of one connection: JSON lines out; once the client is gone, the rest of
    the output is dropped and the command runs to its end (as a command one stops watching)."""

    def __init__(self, f):
        self._f, self._lock, self.gone = f, threading.Lock(), False

    def send(self, message: dict) -> None:
        with self._lock:
            if self.gone:
                return
            try:
                self._f.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
                self._f.flush()
            except OSError:
                self.gone = True


class _Channel(io.TextIOBase):
    """A text stream to the client's stdout ("o") or stderr ("e")."""

    def __init__(self, wire: _Wire, kind: str, tty: bool):
        self._wire, self._kind, self._tty = wire, kind, tty

    @property
    def encoding(self):
        return "utf-8"

    def write(self, text):
        if text:
            self._wire.send({self._kind: text})
        return len(text)

    def isatty(self):
        return self._tty

    def writable(self):
        return True

    def fileno(self):
        raise io.UnsupportedOperation("a client's stream has no file descriptor")


def _console(channel: _Channel, info: dict, stderr: bool):
    from rich.console import Console

    return Console(file=channel, width=int(info.get("width") or 80), height=int(info.get("height") or 25),
                   force_terminal=bool(info.get("terminal")), force_interactive=bool(info.get("interactive")),
                   color_system=info.get("color_system"), no_color=bool(info.get("no_color")), legacy_windows=False,
                   stderr=stderr)


# --- the server ----------------------------------------------------------------------------------

class CommandServer:
    """Listens on the database's socket and runs each command sent there with `command` (the CLI's
    click group) under `lock` (the web server's lock, which every route takes): one at a time, on
    the server's connection (engine.serve_engine registers it for the database's path)."""

    def __init__(self, db, command, lock):
        self.db = os.path.realpath(db)
        self.path = socket_path(self.db)
        self.command, self.lock = command, lock
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._saved_streams = None

    def start(self) -> None:
        pid = live_server(self.db)
        if pid is not None:
            raise ErsattningError(f"{self.db} is already served by `ersattning serve` (process {pid})")
        self._private_dir()
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                os.unlink(self.path)  # stale: a stopped server's; nobody answered it
            else:
                raise ErsattningError(f"{self.path} exists and is not a socket: remove it, then serve")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # umask: the socket is never connectable by others, not even between bind and chmod.
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(8)
        sock.settimeout(0.5)  # the accept loop looks at the stop flag twice a second
        self._sock, self._inode = sock, os.stat(self.path).st_ino
        self._saved_streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Switch(sys.stdout, "stdout"), _Switch(sys.stderr, "stderr")
        threading.Thread(target=self._accept, name="ersattning-commands", daemon=True).start()

    def _private_dir(self) -> None:
        """The fallback folder under /tmp: this user's own, or refused (another user could otherwise
        put a socket there first)."""
        parent = self.path.parent
        if parent.name != f"ersattning-{os.getuid()}":
            return
        with contextlib.suppress(FileExistsError):
            parent.mkdir(mode=0o700)
        st = os.lstat(parent)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise ErsattningError(f"{parent} is not a private folder of this user: remove it, then serve")

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_ino == self._inode:  # still ours
                    os.unlink(self.path)
            self._sock = None
        if self._saved_streams is not None:
            sys.stdout, sys.stderr = self._saved_streams
            self._saved_streams = None

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return  # closed by stop()
            conn.settimeout(None)
            threading.Thread(target=self._serve_one, args=(conn,), daemon=True).start()

    def _serve_one(self, conn: socket.socket) -> None:
        with conn:
            if _peer_uid(conn) != os.getuid():
                return  # another user: nothing is read or answered
            f = conn.makefile("rwb")
            try:
                self._answer(f)
            finally:
                with contextlib.suppress(OSError):  # the client may be gone
                    f.close()

    def _answer(self, f) -> None:
        wire = _Wire(f)
        line = f.readline(MAX_REQUEST + 1)
        try:
            request = json.loads(line) if len(line) <= MAX_REQUEST else None
            op = request["op"]
            if op == "run" and not (isinstance(request["argv"], list) and isinstance(request["cwd"], str)):
                op = None
        except (ValueError, KeyError, TypeError):
            op = None
        if op == "ping":
            return wire.send({"pid": os.getpid(), "db": self.db})
        if op != "run":
            return self._refuse(wire, "not a request")
        if os.path.realpath(str(request.get("db", ""))) != self.db:
            return self._refuse(wire, f"this server serves {self.db}")
        wire.send({"exit": self.run(request, wire)})

    @staticmethod
    def _refuse(wire: _Wire, why: str) -> None:
        wire.send({"e": f"error: {why}\n"})
        wire.send({"exit": 2})

    def run(self, request: dict, wire: _Wire) -> int:
        """Run one client's command as `ersattning ARGV` would in its cwd; its exit code."""
        from ersattning import store

        out_info, err_info = request.get("out") or {}, request.get("err") or {}
        out = _Channel(wire, "o", bool(out_info.get("terminal")))
        err = _Channel(wire, "e", bool(err_info.get("terminal")))
        client = _Client(_console(out, out_info, False), _console(err, err_info, True), out, err)
        with self.lock:
            token = _client.set(client)
            login = store.client_login.set(str(request.get("user") or "") or None)
            here = os.getcwd()
            typer_settings = _typer_for(err_info)
            try:
                # The client's paths are relative to its cwd, and what the command prints names
                # them as given: so it runs in that cwd. chdir is process-wide, hence under the
                # lock; nothing else in the server depends on the cwd (the database path is
                # absolute from the start, templates and static files are found from the package).
                os.chdir(request["cwd"])
                self.command.main(args=[str(a) for a in request["argv"]], prog_name=str(request.get("prog_name") or "ersattning"),
                                  standalone_mode=True)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
                if isinstance(exc.code, str):
                    err.write(exc.code + "\n")
            except Exception:
                err.write(traceback.format_exc())
                code = 1
            finally:
                with contextlib.suppress(OSError):
                    os.chdir(here)
                _typer_restore(typer_settings)
                store.client_login.reset(login)
                _client.reset(token)
        return code


def _typer_for(info: dict):
    """Typer lays out its usage errors for the terminal it finds (in the server: the server's);
    for a client's command, the client's. Module settings of typer, set under the server's lock."""
    try:
        from typer import rich_utils
    except ImportError:  # pragma: no cover - typer without rich
        return None
    saved = rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL, rich_utils.COLOR_SYSTEM
    rich_utils.MAX_WIDTH = int(info.get("width") or 80)
    rich_utils.FORCE_TERMINAL = bool(info.get("terminal"))
    rich_utils.COLOR_SYSTEM = info.get("color_system") or "auto"
    return saved


def _typer_restore(saved) -> None:
    if saved is not None:
        from typer import rich_utils

        rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL, rich_utils.COLOR_SYSTEM = saved
