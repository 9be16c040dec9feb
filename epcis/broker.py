"""How a client reaches the broker: URL, credentials and TLS files (the wire contract's
other half, next to :mod:`epcis.topics`).

Every MQTT client of the project (trace server, edge agent, simulators) builds its
connection from a :class:`BrokerLink`:

* ``mqtts://host[:8883]`` turns TLS on (a CA file to trust the broker, optionally a client
  certificate and key); ``mqtt://host[:1883]`` is plain TCP;
* the username and password come from a **secrets file** (TOML, readable by its owner only,
  as ``serialtrace broker add-…`` writes them), from the environment, from configuration, or
  from the URL's ``user:password@`` part, in that order of preference. They are never put
  on a command line and :meth:`BrokerLink.redacted` is what goes into a log line.

A secrets file::

    url = "mqtts://broker.plant:8883"    # optional
    username = "line/site1/line1"
    password = "…"
    ca_file = "/etc/serialtrace/mqtt/ca.crt"
    cert_file = "…"                      # optional client certificate
    key_file = "…"

:func:`refusal` turns the broker's CONNACK reason into the one line an operator needs, and
:func:`tls_problem` tells why a TLS handshake failed (paho only says the connection failed).
"""

from __future__ import annotations

import os
import socket
import ssl
import stat
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from epcis.errors import BrokerLinkError

SECRET_KEYS: Final = ("url", "username", "password", "ca_file", "cert_file", "key_file")
#: CONNACK reason codes (MQTT 5) that retrying cannot cure: a client stops and says so.
FATAL_CONNACK: Final = {
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x8C: "bad authentication method",
}
SESSION_TAKEN_OVER: Final = 0x8E


@dataclass(frozen=True)
class BrokerLink:
    """Where and as whom a client connects."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def parse(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        secrets_file: str | Path | None = None,
        field_name: str = "mqtt_url",
    ) -> BrokerLink:
        """A link from ``url`` (``mqtt://`` or ``mqtts://``, credentials allowed in it);
        the keyword values override the URL's, and a ``secrets_file`` overrides both."""
        secrets = load_secrets(secrets_file) if secrets_file else {}
        url = secrets.get("url") or url
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise BrokerLinkError(
                f"{field_name}: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT], "
                f"got {_redact_url(url)!r}"
            )
        try:
            port = parts.port
        except ValueError:
            raise BrokerLinkError(
                f"{field_name}: expected a port number in 1..65535, got {_redact_url(url)!r}"
            ) from None
        tls = parts.scheme in ("mqtts", "ssl")
        link = cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=secrets.get("username") or username or _unquote(parts.username),
            password=secrets.get("password") or password or _unquote(parts.password),
            ca_file=secrets.get("ca_file") or ca_file,
            cert_file=secrets.get("cert_file") or cert_file,
            key_file=secrets.get("key_file") or key_file,
        )
        if (link.cert_file is None) != (link.key_file is None):
            raise BrokerLinkError(
                f"{field_name}: expected both a client certificate and its key, got only one"
            )
        if not tls and (link.ca_file or link.cert_file):
            raise BrokerLinkError(
                f"{field_name}: a CA or client certificate needs mqtts://, got {_redact_url(url)!r}"
            )
        return link

    def with_username(self, username: str | None) -> BrokerLink:
        return replace(self, username=username)

    @property
    def url(self) -> str:
        """The URL without credentials."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def redacted(self) -> str:
        """What a log line may say about this link: URL and username, never the password."""
        who = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{who}{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        """The client TLS context: the broker's certificate must chain to ``ca_file`` (the
        system's CAs when not set) and name ``host``."""
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if self.cert_file is not None:
                context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerLinkError(f"mqtt TLS files: cannot load them: {exc}") from exc
        return context

    def configure(self, client: Any) -> None:
        """Set credentials and TLS on a paho-mqtt client (not connected yet)."""
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set_context(self.ssl_context())


def load_secrets(path: str | Path) -> dict[str, str]:
    """The keys of a secrets file; refused when others than its owner may read it."""
    source = Path(path)
    try:
        mode = source.stat().st_mode
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise BrokerLinkError(
            f"mqtt secrets file: cannot read {str(source)!r}: {exc.strerror}"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BrokerLinkError(
            f"mqtt secrets file {str(source)!r}: expected mode 0600 (its owner only), "
            f"got {stat.S_IMODE(mode):04o}"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BrokerLinkError(f"mqtt secrets file {str(source)!r}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(SECRET_KEYS))
    if unknown:
        raise BrokerLinkError(
            f"mqtt secrets file {str(source)!r}: unknown keys {unknown}; "
            f"expected some of {list(SECRET_KEYS)}"
        )
    for key, value in data.items():
        if not isinstance(value, str):
            raise BrokerLinkError(
                f"mqtt secrets file {str(source)!r}: {key}: expected a string, "
                f"got {type(value).__name__}"
            )
    return {key: str(value) for key, value in data.items()}


def write_secrets(path: Path, values: dict[str, str]) -> None:
    """Write a secrets file with mode 0600 (created so, never readable by others)."""
    lines = [f"{key} = {_toml_string(values[key])}" for key in SECRET_KEYS if values.get(key)]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write("\n".join(lines) + "\n")


def refusal(reason: Any) -> str | None:
    """A CONNACK reason that retrying cannot cure, as text (None for any other reason)."""
    value = getattr(reason, "value", reason)
    if not isinstance(value, int):
        return None
    text = FATAL_CONNACK.get(value)
    return None if text is None else f"broker refused the connection: {text} (0x{value:02X})"


def tls_problem(link: BrokerLink, timeout: float = 5.0) -> str | None:
    """Why a TLS handshake with the broker fails (certificate not trusted, wrong host, no
    listener); None if it succeeds or the link is plain TCP."""
    if not link.tls:
        return None
    try:
        context = link.ssl_context()
    except BrokerLinkError as exc:
        return str(exc)
    try:
        with (
            socket.create_connection((link.host, link.port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=link.host),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        return f"TLS: the broker's certificate is not trusted: {exc.verify_message}"
    except ssl.SSLError as exc:
        return f"TLS: handshake with {link.host}:{link.port} failed: {exc.reason or exc}"
    except OSError as exc:
        return f"cannot reach {link.host}:{link.port}: {exc.strerror or exc}"


def command_line_url_problem(url: str | None, flag: str, instead: str) -> str | None:
    """The one-line refusal of a broker URL given on the command line (``flag``) with a
    password in it, None if it has none: a command line is in the process list, which every
    user of the machine can read. ``instead`` says where the password goes (a secrets file,
    an environment variable). A username alone is no secret; configuration files and the
    environment may still carry a URL with credentials."""
    if url is None:
        return None
    try:
        password = urlsplit(url).password
    except ValueError:  # not a URL at all: BrokerLink.parse says what is wrong with it
        return None
    if not password:
        return None
    return (
        f"{flag}: expected a broker URL without a password (the process list shows it to "
        f"every user), got {_redact_url(url)!r}; give the password in {instead}"
    )


def _unquote(value: str | None) -> str | None:
    return None if value is None else unquote(value)


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
