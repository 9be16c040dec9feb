"""The audit trail against a rogue database owner, on SQLite and PostgreSQL.

A server with an audit key records a signed batch history through the API; then the
database owner drops the append-only triggers and tampers as the issue describes: deletes
the newest rows, rewrites a row and recomputes every hash after it, deletes a row in the
middle, edits the signature and batch-status tables, forges a chain checkpoint. Each time
``GET /audit/verify`` (and ``serialtrace server audit verify``) must say so, name the kind
and the first bad row; untouched, it says intact.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from serialtrace.cli import main
from server import audit
from server.api.app import create_app
from server.qa.tables import qa_batch_status, qa_signatures
from server.store import read_transaction, write_transaction
from server.store.schema import audit_trail
from tests.server import factory as f
from tests.server.conftest import settings_for
from tests.server.qa.builders import Headers, build_batch, record_batch, sign

BATCH = f"(01){f.GTIN}(10)LOT1"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "audit.key"
    path.parent.mkdir()
    audit.generate_key_file(path)
    return path


@pytest.fixture
def anchored(store: Engine, key_file: Path) -> Iterator[TestClient]:
    settings = settings_for(store, audit_key_file=str(key_file), audit_checkpoint_seconds=3600)
    with TestClient(create_app(settings, engine=store)) as client:
        yield client


def drop_triggers(store: Engine) -> None:
    """As the database owner: the append-only triggers go."""
    with write_transaction(store) as conn:
        if store.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_trail_no_update"))
            conn.execute(text("DROP TRIGGER audit_trail_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_trail_append_only ON audit_trail"))


def history(client: TestClient, tokens: Headers) -> None:
    """A batch recorded, released, held and released again (signed each time)."""
    build_batch(client, tokens, pallets=1, shipped=0)
    record_batch(client, tokens, "LOT1", units=4)
    for status in ("released", "quarantine", "released"):
        answer = sign(client, tokens, "LOT1", status)
        assert answer.status_code == 200, answer.text


def rechain(store: Engine, action: str, reason: str) -> int:
    """As the database owner: the first row of ``action`` gets another reason, and every
    hash from it on is recomputed (the chain alone then looks intact); its id."""
    with write_transaction(store) as conn:
        rows = conn.execute(select(audit_trail).order_by(audit_trail.c.id)).all()
        target = next(r for r in rows if r.action == action)
        prev = audit.GENESIS
        for row in rows:
            new_reason = reason if row.id == target.id else row.reason
            content = {
                "at": row.at.isoformat(timespec="microseconds"),
                "actor": row.actor,
                "action": row.action,
                "entity": row.entity,
                "entity_key": row.entity_key,
                "old_value": row.old_value,
                "new_value": row.new_value,
                "reason": new_reason,
            }
            digest = hashlib.sha256((prev + audit.canonical_json(content)).encode()).hexdigest()
            conn.execute(
                audit_trail.update()
                .where(audit_trail.c.id == row.id)
                .values(reason=new_reason, prev_hash=prev, hash=f"tmp{row.id}")
            )
            conn.execute(audit_trail.update().where(audit_trail.c.id == row.id).values(hash=digest))
            prev = digest
    return int(target.id)


def verify(client: TestClient, tokens: Headers) -> dict[str, object]:
    answer = client.get("/audit/verify", headers=tokens["qa"])
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def kinds(report: dict[str, object]) -> set[str]:
    return {p["kind"] for p in report["problems"]}  # type: ignore[index, union-attr]


def row_ids(store: Engine) -> list[int]:
    with read_transaction(store) as conn:
        return [
            int(i)
            for i in conn.execute(select(audit_trail.c.id).order_by(audit_trail.c.id)).scalars()
        ]


def test_untouched_trail_is_intact_and_anchored(
    store: Engine, anchored: TestClient, tokens: Headers, key_file: Path
) -> None:
    history(anchored, tokens)
    report = verify(anchored, tokens)
    assert report["intact"] is True, report["problems"]
    assert report["anchored"] is True
    assert report["problems"] == [] and report["warnings"] == []
    assert report["file_checkpoints"] >= 4  # one after every commit that appended rows
    assert report["unanchored_rows"] == 0
    lines = (key_file.parent / "audit-checkpoints.jsonl").read_text().splitlines()
    assert len(lines) == report["file_checkpoints"]
    assert json.loads(lines[-1])["head_id"] == row_ids(store)[-1]


def test_deleting_the_newest_rows_is_found(
    store: Engine, anchored: TestClient, tokens: Headers
) -> None:
    history(anchored, tokens)
    ids = row_ids(store)
    drop_triggers(store)
    with write_transaction(store) as conn:  # the last hold and release
        conn.execute(audit_trail.delete().where(audit_trail.c.id.in_(ids[-2:])))
    report = verify(anchored, tokens)
    assert report["intact"] is False
    assert "truncated" in kinds(report)
    assert report["first_bad_row"] == ids[-2] == report["first_broken_id"]
    # ... and the batch status no longer matches what is left of the trail.
    assert "record_mismatch" in kinds(report)


def test_rewriting_a_row_and_recomputing_every_hash_is_found(
    store: Engine, anchored: TestClient, tokens: Headers
) -> None:
    history(anchored, tokens)
    drop_triggers(store)
    target = rechain(store, "production_record", "nothing to see")
    with read_transaction(store) as conn:
        assert audit.verify_chain(conn) is None  # the chain alone no longer shows it
    report = verify(anchored, tokens)
    assert report["intact"] is False
    assert "rechained" in kinds(report)
    assert report["first_bad_row"] == target


def test_deleting_a_row_in_the_middle_is_found(
    store: Engine, anchored: TestClient, tokens: Headers
) -> None:
    history(anchored, tokens)
    ids = row_ids(store)
    drop_triggers(store)
    with write_transaction(store) as conn:
        conn.execute(audit_trail.delete().where(audit_trail.c.id == ids[3]))
    report = verify(anchored, tokens)
    assert report["intact"] is False
    assert {"deleted", "broken_link"} <= kinds(report)
    assert report["first_bad_row"] == ids[3]


def test_editing_the_signature_and_status_tables_shows(
    store: Engine, anchored: TestClient, tokens: Headers
) -> None:
    history(anchored, tokens)
    with write_transaction(store) as conn:  # no trigger guards these tables
        conn.execute(qa_signatures.update().values(full_name="Dr. Jane Doe (Qualified Person)"))
    report = verify(anchored, tokens)
    assert report["intact"] is False and report["first_bad_row"] is None
    details = [p["detail"] for p in report["problems"]]  # type: ignore[union-attr]
    assert any(
        "name 'Dr. Jane Doe (Qualified Person)' (audit trail: 'Quinn QA')" in d for d in details
    ), details
    record = anchored.get(f"/qa/batches/{f.GTIN}/LOT1/record", headers=tokens["qa"]).json()
    assert record["integrity"], "the batch record must show the forged signer"

    with write_transaction(store) as conn:
        conn.execute(qa_signatures.update().values(full_name="Quinn QA"))
        conn.execute(qa_batch_status.update().values(status="rejected"))
    report = verify(anchored, tokens)
    assert [p["detail"] for p in report["problems"]] == [  # type: ignore[union-attr]
        f"batch {BATCH}: status is 'rejected', the audit trail says 'released'"
    ]


def test_a_checkpoint_signed_with_another_key_is_refused(
    store: Engine, anchored: TestClient, tokens: Headers, key_file: Path
) -> None:
    history(anchored, tokens)
    point = anchored.post("/audit/checkpoints", headers=tokens["qa"])
    assert point.status_code == 201, point.text
    drop_triggers(store)
    rogue = Ed25519PrivateKey.generate()
    with write_transaction(store) as conn:
        row = conn.execute(
            select(audit_trail).where(audit_trail.c.action == audit.CHECKPOINT_ACTION)
        ).first()
        assert row is not None
        body = json.loads(row.new_value)
        body.pop("sig")
        body["sig"] = rogue.sign(audit.canonical_json(body).encode()).hex()
        conn.execute(
            audit_trail.update()
            .where(audit_trail.c.id == row.id)
            .values(new_value=json.dumps(body, sort_keys=True))
        )
    report = verify(anchored, tokens)
    assert {"checkpoint_invalid", "rewritten"} <= kinds(report)


def test_cli_verify_exits_1_and_names_the_first_bad_row(
    store: Engine,
    anchored: TestClient,
    tokens: Headers,
    key_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history(anchored, tokens)
    url = store.url.render_as_string(hide_password=False)
    monkeypatch.setenv("SERIALTRACE_SERVER__AUDIT_KEY_FILE", str(key_file))
    if store.dialect.name == "postgresql":
        pytest.skip("the CLI takes a URL; the PostgreSQL test store is a schema of this test")
    assert main(["server", "audit", "verify", "--db", url]) == 0
    assert capsys.readouterr().out.endswith("intact\n")
    ids = row_ids(store)
    drop_triggers(store)
    with write_transaction(store) as conn:
        conn.execute(audit_trail.delete().where(audit_trail.c.id == ids[-1]))
    assert main(["server", "audit", "verify", "--db", url]) == 1
    out = capsys.readouterr().out
    assert f"NOT INTACT: first bad row {ids[-1]}" in out
    assert f"truncated: row {ids[-1]} is missing" in out


def chain_checkpoint_heads(store: Engine) -> tuple[int, list[int]]:
    """The newest row's id and the head rows the chain checkpoints pinned."""
    with read_transaction(store) as conn:
        rows = conn.execute(
            select(audit_trail.c.id, audit_trail.c.action, audit_trail.c.new_value).order_by(
                audit_trail.c.id
            )
        ).all()
    heads = [
        int(json.loads(r.new_value)["head_id"]) for r in rows if r.action == audit.CHECKPOINT_ACTION
    ]
    newest = max((int(r.id) for r in rows if r.action != audit.CHECKPOINT_ACTION), default=0)
    return newest, heads


def test_periodic_chain_checkpoints_are_enough_for_a_verifier_with_the_public_key(
    store: Engine,
    key_file: Path,
    tokens: Headers,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server writes a signed checkpoint into the trail every audit_checkpoint_seconds;
    a copy of the database and the public key then show a re-chained trail, with no
    checkpoint file and no private key."""
    settings = settings_for(store, audit_key_file=str(key_file), audit_checkpoint_seconds=0.2)
    with TestClient(create_app(settings, engine=store)) as client:
        history(client, tokens)
        newest = chain_checkpoint_heads(store)[0]
        deadline = time.monotonic() + 30
        while newest not in chain_checkpoint_heads(store)[1]:  # the thread's next turn
            assert time.monotonic() < deadline, "no chain checkpoint of the newest row in 30 s"
            time.sleep(0.05)
    if store.dialect.name == "sqlite":  # the CLI takes a URL (see above)
        monkeypatch.setenv("SERIALTRACE_SERVER__AUDIT_KEY_FILE", str(key_file))
        url = store.url.render_as_string(hide_password=False)
        assert main(["server", "audit", "checkpoint", "--db", url]) == 0
        assert re.fullmatch(
            r"checkpoint \d+: \d+ rows up to row \d+\n",
            capsys.readouterr().out.splitlines(True)[-1],
        )
    public = audit.load_private_key(key_file.read_bytes(), "test").public_key()
    verifier = audit.Anchor(store, checkpoint_file=None, private_key=None, public_key=public)
    with read_transaction(store) as conn:
        report = audit.verify(conn, verifier)
    assert report.intact and report.anchored, report.problems
    assert report.file_checkpoints == 0 and report.chain_checkpoints >= 2
    assert report.warnings == ["no checkpoint file configured: only chain checkpoints are checked"]

    drop_triggers(store)
    rechain(store, "production_record", "nothing to see")
    with read_transaction(store) as conn:
        assert audit.verify_chain(conn) is None
        report = audit.verify(conn, verifier)
    assert not report.intact
    assert "rechained" in {p.kind for p in report.problems}, report.problems


def test_without_a_key_verify_warns(client: TestClient, tokens: Headers) -> None:
    report = verify(client, tokens)
    assert report["anchored"] is False
    assert report["warnings"][0].startswith("no audit key configured")  # type: ignore[index]
    refused = client.post("/audit/checkpoints", headers=tokens["qa"])
    assert refused.status_code == 409


def test_audit_key_command_and_a_readable_key_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], store: Engine
) -> None:
    key = tmp_path / "k.pem"
    assert main(["server", "audit-key", "--out", str(key)]) == 0
    out = capsys.readouterr().out
    assert key.stat().st_mode & 0o777 == 0o600
    assert "public key (audit_public_key for verifiers): " in out
    assert main(["server", "audit-key", "--out", str(key)]) == 2  # never overwritten
    key.chmod(0o644)
    from server.errors import ConfigError

    with pytest.raises(ConfigError, match="has mode 0644, so other users can read the key"):
        audit.anchor_from_settings(settings_for(store, audit_key_file=str(key)), store)
