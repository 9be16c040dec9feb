"""A Mosquitto set-up that is secure by default: ``serialtrace broker init|add-line|add-plc|
add-server`` and the test/demo launcher (:func:`serialtrace.services.start_mosquitto`) both
write it with this module, so tests and the demo run the broker as production does.

``init DIR`` writes into ``DIR``:

* ``ca.crt``/``ca.key``: a certificate authority of the plant's own (ECDSA P-256, 10 years);
* ``server.crt``/``server.key``: the broker's certificate, signed by that CA, naming
  ``localhost``, ``127.0.0.1`` and every ``--hostname`` given (2 years);
* ``mosquitto.conf``: anonymous access off, one TLS listener (TLS 1.2 or later), the
  password and ACL files, and ``use_username_as_clientid``: the broker replaces every
  client id by the client's username, so no client can take over another identity's session
  (the attack that let an intruder with the server's client id receive its events);
* ``passwd`` (Mosquitto's PBKDF2-SHA512 ``$7$`` hashes) and ``acl``, both empty until
  identities are added; ``identities.json`` keeps what they are made from.

Identities (``add-*``), each with least privilege; ``S``/``L`` are a site and line id:

=================  ==========================================================================
``line S L``       ``line/S/L`` (outbox publisher): writes ``…/S/L/events`` and ``…/state``,
                   reads ``…/S/L/acks``; ``line/S/L/plc``: reads ``plc/trigger``, ``plc/batch``,
                   ``plc/error``, writes ``plc/accept|reject|command|batch/reply|invalid``;
                   ``line/S/L/gate``: reads ``plc/gate``. One secret for the three.
``plc S L``        ``plc/S/L``: writes ``plc/trigger|batch|error|gate``, reads
                   ``plc/accept|reject|command|batch/reply|invalid`` of its line only.
``server NAME``    ``server/NAME``: reads every line's ``events`` (directly or through a
                   ``$share/…`` group), writes every line's ``acks``.
=================  ==========================================================================

Each ``add-*`` writes the identity's secrets file (``clients/….toml``, mode 0600: URL, CA,
username, password) for the client to use, and prints where it is: the password is never
printed. Adding an identity again issues a new password. A running Mosquitto reads the
password and ACL files again on SIGHUP (``systemctl reload mosquitto``).
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import hashlib
import ipaddress
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from epcis import topics
from epcis.broker import write_secrets

PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes ($7$)
DEFAULT_PORT = 8883

_Kind = topics.TopicKind
PLC_IN = (_Kind.PLC_TRIGGER, _Kind.PLC_BATCH, _Kind.PLC_ERROR)  # PLC -> edge
PLC_OUT = (  # edge -> PLC
    _Kind.PLC_ACCEPT,
    _Kind.PLC_REJECT,
    _Kind.PLC_COMMAND,
    _Kind.PLC_BATCH_REPLY,
    _Kind.PLC_INVALID,
)


class BrokerSetupError(Exception):
    """The broker folder or an identity cannot be written or read."""


@dataclass(frozen=True)
class Identity:
    """One identity: its kind, its usernames (one per connection) and its rights."""

    kind: str  # line | plc | server
    name: str  # the main username
    rules: dict[str, list[tuple[str, str]]]  # username -> [(read|write, topic)]

    @property
    def usernames(self) -> list[str]:
        return list(self.rules)


def line_identity(site: str, line: str) -> Identity:
    of = topics.LineTopics(site, line)  # validates the ids
    name = f"line/{site}/{line}"
    return Identity(
        "line",
        name,
        {
            name: [("write", of.events), ("write", of.state), ("read", of.acks)],
            f"{name}/plc": [("read", of.of(kind)) for kind in PLC_IN]
            + [("write", of.of(kind)) for kind in PLC_OUT],
            f"{name}/gate": [("read", of.plc_gate)],
        },
    )


def plc_identity(site: str, line: str) -> Identity:
    of = topics.LineTopics(site, line)
    name = f"plc/{site}/{line}"
    return Identity(
        "plc",
        name,
        {
            name: [("write", of.of(kind)) for kind in (*PLC_IN, _Kind.PLC_GATE)]
            + [("read", of.of(kind)) for kind in PLC_OUT]
        },
    )


def server_identity(name: str) -> Identity:
    """A trace server: ``server/NAME`` ingests events (shared subscription allowed) and
    acknowledges them; ``server/NAME/mes`` takes MES's batch orders and answers them (a
    connection of its own, so its client id never takes over the ingest session)."""
    topics.validate_id(name, "server name")
    username = f"server/{name}"
    return Identity(
        "server",
        username,
        {
            username: [
                ("read", topics.EVENTS_SUBSCRIPTION),
                ("read", f"$share/+/{topics.EVENTS_SUBSCRIPTION}"),
                ("write", topics.every_line(_Kind.ACKS)),
            ],
            f"{username}/mes": [
                ("read", topics.MES_ORDERS_SUBSCRIPTION),
                ("write", topics.every_line(_Kind.MES_ORDERS_REPLY)),
            ],
        },
    )


def mes_identity(site: str, line: str) -> Identity:
    """MES for one line: publishes its batch orders and reads the answers, nothing else."""
    of = topics.LineTopics(site, line)
    name = f"mes/{site}/{line}"
    return Identity("mes", name, {name: [("write", of.mes_orders), ("read", of.mes_orders_reply)]})


def password_hash(password: str, salt: bytes | None = None) -> str:
    """Mosquitto's ``$7$`` hash (PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    salt_text = base64.b64encode(salt).decode()
    return f"$7${PBKDF2_ITERATIONS}${salt_text}${base64.b64encode(digest).decode()}"


class BrokerSetup:
    """A broker folder written by :meth:`init`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        settings = self.folder / "broker.json"
        try:
            data = json.loads(settings.read_text(encoding="utf-8"))
        except OSError as exc:
            raise BrokerSetupError(
                f"{str(self.folder)!r}: not a broker folder (run 'serialtrace broker init' "
                f"first): {exc.strerror}"
            ) from None
        self.port = int(data["port"])
        self.bind = str(data["bind"])
        self.hostname = str(data["hostname"])

    # -- files ---------------------------------------------------------------------------

    @property
    def config(self) -> Path:
        return self.folder / "mosquitto.conf"

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def url(self) -> str:
        """The URL clients use (``mqtts://HOSTNAME:PORT``)."""
        return f"mqtts://{self.hostname}:{self.port}"

    def secrets_file(self, identity: Identity) -> Path:
        return self.folder / "clients" / (identity.name.replace("/", "-") + ".toml")

    # -- init ----------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        folder: Path,
        *,
        port: int = DEFAULT_PORT,
        bind: str = "127.0.0.1",
        hostnames: Iterable[str] = (),
        user: str | None = None,
        persistence: bool = True,
        force: bool = False,
    ) -> BrokerSetup:
        """Write a new broker folder (refused if one is there, unless ``force``)."""
        folder = folder.resolve()
        if (folder / "broker.json").exists() and not force:
            raise BrokerSetupError(
                f"{str(folder)!r}: a broker set-up is already there (--force replaces it, "
                "and every identity with it)"
            )
        if not 0 < port < 65536:
            raise BrokerSetupError(f"--port: expected 1..65535, got {port}")
        names = ["localhost", *hostnames]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "clients").mkdir(mode=0o700, exist_ok=True)
        _write_pki(folder, names)
        primary = next(iter(hostnames), "127.0.0.1")
        (folder / "broker.json").write_text(
            json.dumps({"port": port, "bind": bind, "hostname": primary}, indent=2) + "\n"
        )
        (folder / "identities.json").write_text("{}\n")
        setup = cls(folder)
        setup._write_conf(user or getpass.getuser(), persistence)
        setup._write_auth({})
        return setup

    def _write_conf(self, user: str, persistence: bool) -> None:
        folder = self.folder
        lines = [
            "# Written by 'serialtrace broker init'; identities by 'serialtrace broker add-*'.",
            # Started as root, Mosquitto drops to this user, who must read the files here.
            f"user {user}",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {folder}/passwd",
            f"acl_file {folder}/acl",
            f"listener {self.port} {self.bind}",
            f"cafile {folder}/ca.crt",
            f"certfile {folder}/server.crt",
            f"keyfile {folder}/server.key",
            "tls_version tlsv1.2",
            "require_certificate false",
            # The client id is the username: nobody takes over another identity's session.
            "use_username_as_clientid true",
            "set_tcp_nodelay true",
            "max_inflight_messages 20",
            "max_queued_messages 100000",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {folder}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        self.config.write_text("\n".join(lines) + "\n")

    # -- identities ----------------------------------------------------------------------

    def add_line(self, site: str, line: str) -> Path:
        return self.add(line_identity(site, line))

    def add_plc(self, site: str, line: str) -> Path:
        return self.add(plc_identity(site, line))

    def add_server(self, name: str) -> Path:
        return self.add(server_identity(name))

    def add_mes(self, site: str, line: str) -> Path:
        return self.add(mes_identity(site, line))

    def add(self, identity: Identity, password: str | None = None) -> Path:
        """Create (or renew the password of) ``identity``; its secrets file."""
        password = password or secrets.token_urlsafe(24)
        known = self._identities()
        for username, rules in identity.rules.items():
            known[username] = {
                "identity": identity.name,
                "hash": password_hash(password),
                "rules": [list(rule) for rule in rules],
            }
        self._write_auth(known)
        target = self.secrets_file(identity)
        write_secrets(
            target,
            {
                "url": self.url,
                "username": identity.name,
                "password": password,
                "ca_file": str(self.ca_file),
            },
        )
        return target

    def identities(self) -> list[str]:
        """The main usernames of every identity."""
        return sorted({str(entry["identity"]) for entry in self._identities().values()})

    def _identities(self) -> dict[str, dict[str, object]]:
        path = self.folder / "identities.json"
        try:
            data: dict[str, dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BrokerSetupError(f"{str(path)!r}: cannot read it: {exc}") from None
        return data

    def _write_auth(self, known: dict[str, dict[str, object]]) -> None:
        _write_private(self.folder / "identities.json", json.dumps(known, indent=2) + "\n")
        passwd = [f"{username}:{entry['hash']}" for username, entry in sorted(known.items())]
        _write_private(self.folder / "passwd", "".join(line + "\n" for line in passwd))
        acl = ["# Written by 'serialtrace broker'; one block per username, nothing else allowed."]
        for username, entry in sorted(known.items()):
            acl += ["", f"user {username}"]
            rules = entry["rules"]
            assert isinstance(rules, list)
            acl += [f"topic {access} {topic}" for access, topic in rules]
        _write_private(self.folder / "acl", "\n".join(acl) + "\n")


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)


def _write_pki(folder: Path, names: list[str]) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "serialtrace broker CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for name in dict.fromkeys([*names, "127.0.0.1"]):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[-1])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=730))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    private = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    (folder / "ca.crt").write_bytes(ca_cert.public_bytes(pem))
    (folder / "server.crt").write_bytes(cert.public_bytes(pem))
    _write_private(folder / "ca.key", ca_key.private_bytes(pem, private, plain).decode())
    _write_private(folder / "server.key", key.private_bytes(pem, private, plain).decode())
