"""Checked before running: every folder, file, key, port and URL a command will need.

``serialtrace edge check`` / ``edge run`` and ``serialtrace server`` call these before they
start anything, so a missing data folder, a key file others can read or a port in use is one
line naming the setting, not a traceback minutes later (issue 17). A valid *file* is checked
by the configuration models (:mod:`edge.config`, :mod:`server.config`); this module checks
the *machine* the configuration describes.

Two levels: a **problem** stops the command (exit code 2); a **warning** is a peer that is
down now but that the component survives (the edge's outbox holds events while the broker is
away, its serial buffer holds serials while the authority is away), so it is reported and
the command goes on.

Checks never write: a folder is tested with :func:`os.access`, a port by binding and
closing a socket, a peer by opening and closing one TCP connection (2 s).
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from edge.config import EdgeConfig
    from server.config import ServerSettings

#: How long a peer may take to accept a TCP connection before it counts as unreachable.
CONNECT_TIMEOUT_S = 2.0


@dataclass
class Preflight:
    """What a check found: ``problems`` stop the command, ``warnings`` do not."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, text: str | None) -> None:
        if text is not None:
            self.problems.append(text)

    def warning(self, text: str | None) -> None:
        if text is not None:
            self.warnings.append(text)


# -- the building blocks --------------------------------------------------------------------


def folder_problem(setting: str, path: Path) -> str | None:
    """None if ``path`` is an existing folder this user may create files in."""
    if not path.exists():
        return f"{setting}: expected an existing folder, got {str(path)!r} (no such folder)"
    if not path.is_dir():
        return f"{setting}: expected a folder, got {str(path)!r} (not a folder)"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"{setting}: expected a folder this user can write, got {str(path)!r} (read-only)"
    return None


def readable_file_problem(setting: str, path: Path, *, secret: bool = False) -> str | None:
    """None if ``path`` is a file this user can read; a ``secret`` must be its owner's only."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"{setting}: expected an existing file, got {str(path)!r} (no such file)"
    except OSError as exc:
        return f"{setting}: expected a readable file, got {str(path)!r} ({exc.strerror})"
    if not stat.S_ISREG(mode):
        return f"{setting}: expected a file, got {str(path)!r} (not a regular file)"
    if not os.access(path, os.R_OK):
        return f"{setting}: expected a file this user can read, got {str(path)!r} (no permission)"
    if secret and mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"{setting}: expected mode 0600 (owner only), got {stat.S_IMODE(mode):04o} on "
            f"{str(path)!r}"
        )
    return None


def writable_file_problem(setting: str, path: Path) -> str | None:
    """None if ``path`` is a file this user can write, or can be created in its folder."""
    if path.exists():
        if not path.is_file():
            return f"{setting}: expected a file, got {str(path)!r} (not a regular file)"
        if not os.access(path, os.R_OK | os.W_OK):
            return (
                f"{setting}: expected a file this user can write, got {str(path)!r} (no permission)"
            )
        return None
    parent = path.parent
    if not parent.is_dir():
        return f"{setting}: expected a file in an existing folder, got {str(path)!r} (no folder)"
    if not os.access(parent, os.W_OK | os.X_OK):
        return (
            f"{setting}: expected a file this user can create, got {str(path)!r} "
            f"(folder {str(parent)!r} is read-only)"
        )
    return None


def listen_problem(setting: str, host: str, port: int) -> str | None:
    """None if this process could listen on ``host:port`` now (port 0: any free port)."""
    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        return f"{setting}: expected an address of this host, got {host!r} ({exc})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            why = "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            return f"{setting}: cannot listen on {host}:{port} ({why})"
    return None


def connect_problem(setting: str, shown: str, host: str, port: int) -> str | None:
    """None if ``host:port`` accepts a TCP connection within :data:`CONNECT_TIMEOUT_S`."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return None
    except (OSError, UnicodeError) as exc:
        if isinstance(exc, TimeoutError):
            why = "timed out"
        else:
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return f"{setting}: cannot connect to {shown} ({why})"


def http_url_problem(setting: str, url: str) -> str | None:
    """None if the host of an ``http(s)://`` URL accepts a connection on its port."""
    parts = urlsplit(url)
    if not parts.hostname:
        return f"{setting}: expected http(s)://host[:port], got {url!r}"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"{setting}: expected a port number in 1..65535, got {url!r}"
    shown = f"{parts.scheme}://{parts.hostname}:{port}"
    return connect_problem(setting, shown, parts.hostname, port)


def serial_port_problem(setting: str, url: str) -> str | None:
    """A device path must exist; a ``socket://``/``rfc2217://`` peer must accept a
    connection; ``loop://``, ``spy://`` and other pyserial handlers are not checked."""
    if "://" not in url:
        if not Path(url).exists():
            return f"{setting}: expected an existing serial device, got {url!r} (no such device)"
        if not os.access(url, os.R_OK | os.W_OK):
            return f"{setting}: expected a device this user can open, got {url!r} (no permission)"
        return None
    parts = urlsplit(url)
    if parts.scheme in ("socket", "rfc2217"):
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            return f"{setting}: expected {parts.scheme}://HOST:PORT, got {url!r}"
        return connect_problem(setting, url, parts.hostname, port)
    return None


def camera_problem(setting: str, url: str) -> str | None:
    """A device index (``0``: ``/dev/video0``), an existing folder or video file, or a
    stream URL whose host accepts a connection."""
    if url.isdigit():
        device = Path(f"/dev/video{url}")
        return None if device.exists() else f"{setting}: no camera {url} ({device} does not exist)"
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "rtsp"):
        try:
            port = parts.port or {"http": 80, "https": 443, "rtsp": 554}[parts.scheme]
        except ValueError:
            return f"{setting}: expected a port number in 1..65535, got {url!r}"
        if not parts.hostname:
            return f"{setting}: expected {parts.scheme}://HOST[:PORT]/…, got {url!r}"
        shown = f"{parts.scheme}://{parts.hostname}:{port}"
        return connect_problem(setting, shown, parts.hostname, port)
    if not Path(url).exists():
        return (
            f"{setting}: expected a device index, an existing folder or video file, or a stream "
            f"URL, got {url!r} (no such file or folder)"
        )
    return None


def _secret_source(
    setting: str, path: Path | None, env: str, environ: Mapping[str, str]
) -> str | None:
    """A secret comes from a file (owner only) or, without one, from the environment."""
    if path is not None:
        return readable_file_problem(setting, path, secret=True)
    if not environ.get(env):
        return (
            f"{setting}: expected a password file (mode 0600) or {env} in the environment, "
            "got neither"
        )
    return None


# -- the edge agent -------------------------------------------------------------------------


def check_edge(config: EdgeConfig, *, environ: Mapping[str, str] | None = None) -> Preflight:
    """Everything ``serialtrace edge run`` will open, create, listen on or connect to."""
    from edge.api_auth import token_path
    from edge.printers.templates import load_template
    from edge.serials.keyfile import KEY_ENV, key_from_env, read_key
    from gs1.serials.errors import SerialsError

    env = os.environ if environ is None else environ
    found = Preflight()
    data_problem = folder_problem("agent.data_dir", config.data_path)
    found.problem(data_problem)

    def in_missing_data_dir(path: Path) -> bool:  # said once, by agent.data_dir
        return data_problem is not None and path.parent.resolve() == config.data_path.resolve()

    def own_file(setting: str, path: Path) -> None:  # created by the agent, under data_dir
        if not in_missing_data_dir(path):
            found.problem(writable_file_problem(setting, path))

    # devices: the agent opens every port at start and stops when one fails
    devices = config.devices
    for name in ("printer", "camera"):
        if getattr(devices, name, None) is None:
            found.problem(f"devices.{name}: required to run the line, missing")
    for name in ("printer", "case_printer", "scanner", "camera"):
        device = getattr(devices, name, None)
        url = getattr(device, "url", None)
        if isinstance(url, str):
            check = camera_problem if name == "camera" else serial_port_problem
            found.problem(check(f"devices.{name}.url", url))

    # label templates named by the products
    for index, product in enumerate(config.products):
        for kind in ("unit_template", "case_template", "pallet_template"):
            name = getattr(product, kind)
            template: str | Path = config.resolve(name) if name.endswith(".toml") else name
            try:
                load_template(template)
            except (OSError, ValueError) as exc:
                found.problem(f"products.{index}.{kind}: {exc}")

    # serial numbers
    serials = config.serials
    if serials.authority_url is None:
        own_file("serials.allocator", config.resolve(serials.allocator))
        try:
            if serials.key_file is not None:
                if not in_missing_data_dir(config.resolve(serials.key_file)):
                    read_key(config.resolve(serials.key_file))
            elif KEY_ENV not in env:
                found.problem(
                    f"serials.key_file: expected a key file (mode 0600) or {KEY_ENV} in the "
                    "environment, got neither"
                )
            else:
                key_from_env()
        except SerialsError as exc:
            found.problem(f"serials.key_file: {exc}")
    else:
        own_file("serials.buffer", config.resolve(serials.buffer))
        password_file = serials.authority_password_file
        found.problem(
            _secret_source(
                "serials.authority_password_file",
                None if password_file is None else config.resolve(password_file),
                "SERIALTRACE_AUTHORITY_PASSWORD",
                env,
            )
        )
        if serials.authority_ca_file is not None:
            found.problem(
                readable_file_problem(
                    "serials.authority_ca_file", config.resolve(serials.authority_ca_file)
                )
            )
        found.warning(http_url_problem("serials.authority_url", serials.authority_url))

    # the trace server's production data
    if config.server is not None:
        server = config.server
        own_file("server.data", config.resolve(server.data))
        found.problem(
            _secret_source(
                "server.password_file",
                None if server.password_file is None else config.resolve(server.password_file),
                "SERIALTRACE_SERVER_PASSWORD",
                env,
            )
        )
        if server.ca_file is not None:
            found.problem(readable_file_problem("server.ca_file", config.resolve(server.ca_file)))
        found.warning(http_url_problem("server.url", server.url))

    # the broker: its files now; the broker itself may be down (the outbox holds events)
    link = config.mqtt.link()
    for setting, path, secret in (
        ("mqtt.ca_file", link.ca_file, False),
        ("mqtt.cert_file", link.cert_file, False),
        ("mqtt.key_file", link.key_file, True),
    ):
        if path is not None:
            found.problem(readable_file_problem(setting, Path(path), secret=secret))
    if link.username is None and link.cert_file is None:
        found.problem(
            "mqtt: expected the line's broker identity (secrets_file, username and password, "
            "or cert_file and key_file), got none"
        )
    found.warning(connect_problem("mqtt.url", link.url, link.host, link.port))

    # the local API and its token
    found.problem(listen_problem("api.port", config.api.host, config.api.port))
    token = token_path(config)
    if token.exists():
        found.problem(readable_file_problem("api.token_file", token, secret=True))
    else:
        own_file("api.token_file", token)
    return found


# -- the trace server -----------------------------------------------------------------------


def check_server(settings: ServerSettings) -> Preflight:
    """Everything ``serialtrace server`` will open, create, listen on or connect to."""
    from server.config import broker_link, db_url_problem
    from server.errors import ConfigError

    found = Preflight()
    found.problem(db_url_problem(settings))
    if not found.problems:
        found.problem(_store_problem(settings.db_url))
    found.problem(listen_problem("port", settings.host, settings.port))
    try:
        link = broker_link(settings)
    except ConfigError as exc:
        found.problem(str(exc))
        link = None
    if link is not None:
        for setting, path, secret in (
            ("mqtt_ca_file", link.ca_file, False),
            ("mqtt_cert_file", link.cert_file, False),
            ("mqtt_key_file", link.key_file, True),
        ):
            if path is not None:
                found.problem(readable_file_problem(setting, Path(path), secret=secret))
        found.warning(connect_problem("mqtt_url", link.url, link.host, link.port))
    if settings.serials_key_file is not None:
        found.problem(
            readable_file_problem("serials_key_file", settings.serials_key_file, secret=True)
        )
    if settings.serials_journal is not None:
        found.problem(writable_file_problem("serials_journal", settings.serials_journal))
    if settings.audit_key_file is not None:
        found.problem(
            readable_file_problem("audit_key_file", Path(settings.audit_key_file), secret=True)
        )
    if settings.audit_checkpoint_file is not None:
        found.problem(
            writable_file_problem("audit_checkpoint_file", Path(settings.audit_checkpoint_file))
        )
    elif settings.audit_key_file is not None:  # the checkpoints go beside the key
        beside = Path(settings.audit_key_file).parent / "audit-checkpoints.jsonl"
        found.problem(writable_file_problem("audit_checkpoint_file (beside the key)", beside))
    elif settings.audit_key is not None or settings.audit_public_key is not None:
        found.problem(
            "audit_checkpoint_file: expected the file of the signed checkpoints (the key "
            "comes from the environment, so there is no key file to put them beside), got none"
        )
    return found


def _store_problem(db_url: str) -> str | None:
    """SQLite: the file can be created or written, and its folder too (WAL); PostgreSQL:
    the server answers and accepts these credentials."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from server.store import create_store_engine

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        path = Path(url.database)
        return writable_file_problem("db_url", path) or folder_problem(
            "db_url (its folder, for the WAL)", path.parent
        )
    shown = url.render_as_string(hide_password=True)
    if "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": str(int(CONNECT_TIMEOUT_S) + 3)})
    try:
        engine = create_store_engine(url.render_as_string(hide_password=False))
    except (SQLAlchemyError, ValueError) as exc:
        return f"db_url: {exc}"
    try:
        with engine.connect():
            return None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"db_url: cannot connect to {shown} ({reason})"
    finally:
        engine.dispose()
