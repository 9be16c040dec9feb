"""MQTT topic names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from epcis import TopicError, topics
from epcis.topics import LineTopic, TopicKind

RULE = "expected 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit"
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True)


def test_topic_names() -> None:
    assert topics.line_root("bxl", "line-1") == "serialtrace/v1/bxl/line-1/"
    assert topics.events_topic("bxl", "line-1") == "serialtrace/v1/bxl/line-1/events"
    assert topics.state_topic("bxl", "line-1") == "serialtrace/v1/bxl/line-1/state"
    assert topics.plc_trigger_topic("bxl", "l1") == "serialtrace/v1/bxl/l1/plc/trigger"
    assert topics.plc_reject_topic("bxl", "l1") == "serialtrace/v1/bxl/l1/plc/reject"
    assert topics.plc_command_topic("bxl", "l1") == "serialtrace/v1/bxl/l1/plc/command"
    assert topics.plc_error_topic("bxl", "l1") == "serialtrace/v1/bxl/l1/plc/error"
    assert topics.EVENTS_SUBSCRIPTION == "serialtrace/v1/+/+/events"
    assert topics.shared_events_subscription("ingest") == "$share/ingest/serialtrace/v1/+/+/events"


@given(ids, ids, st.sampled_from(TopicKind))
def test_parse_inverts_line_topic(site: str, line: str, kind: TopicKind) -> None:
    topic = topics.line_topic(site, line, kind)
    assert topics.parse_topic(topic) == LineTopic(site, line, kind)
    assert topic_matches_sub(topics.EVENTS_SUBSCRIPTION, topic) is (kind is TopicKind.EVENTS)


@pytest.mark.parametrize(
    ("site", "line", "message"),
    [
        (
            "a/b",
            "l1",
            f"site: {RULE}, got 'a/b'",
        ),
        (
            "s1",
            "+",
            f"line: {RULE}, got '+'",
        ),
        (
            "s1",
            "#",
            f"line: {RULE}, got '#'",
        ),
        (
            "$SYS",
            "l1",
            f"site: {RULE}, got '$SYS'",
        ),
        (
            "",
            "l1",
            f"site: {RULE}, got ''",
        ),
        (
            "s" * 65,
            "l1",
            f"site: {RULE}, got '{'s' * 65}'",
        ),
        (
            "s1",
            "l\u00fc",
            f"line: {RULE}, got 'lü'",
        ),
    ],
)
def test_unsafe_ids_are_refused(site: str, line: str, message: str) -> None:
    with pytest.raises(TopicError) as caught:
        topics.events_topic(site, line)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        (
            "other/v1/s/l/events",
            "topic: expected it to start with 'serialtrace/v1/', got 'other/v1/s/l/events'",
        ),
        (
            "serialtrace/v1/s/events",
            "topic: expected 'serialtrace/v1/{site}/{line}/{kind}', got 'serialtrace/v1/s/events'",
        ),
        (
            "serialtrace/v1/s/l/plc/dance",
            "topic kind: expected one of 'events', 'state', 'plc/trigger', "
            "'plc/reject', 'plc/command', 'plc/error', 'plc/accept', 'plc/batch', "
            "'plc/batch/reply', 'plc/invalid', 'plc/gate', 'mes/orders', 'mes/orders/reply', "
            "'acks', got 'plc/dance'",
        ),
        (
            "serialtrace/v1/s+/l/events",
            "site: expected 1-64 characters of A-Z a-z 0-9 . _ - starting with a "
            "letter or digit, got 's+'",
        ),
    ],
)
def test_parse_topic_errors(topic: str, message: str) -> None:
    with pytest.raises(TopicError) as caught:
        topics.parse_topic(topic)
    assert str(caught.value) == message


@given(st.text(max_size=80))
def test_parse_topic_never_crashes_on_hostile_input(topic: str) -> None:
    try:
        parsed = topics.parse_topic(topic)
    except TopicError:
        return
    assert topics.line_topic(*parsed) == topic


def test_group_is_validated() -> None:
    with pytest.raises(TopicError, match=r"^group: expected"):
        topics.shared_events_subscription("in/gest")


def test_mes_order_topics() -> None:
    assert topics.mes_orders_topic("plant1", "line3") == "serialtrace/v1/plant1/line3/mes/orders"
    assert topics.mes_orders_reply_topic("plant1", "line3") == (
        "serialtrace/v1/plant1/line3/mes/orders/reply"
    )
    assert topic_matches_sub(
        topics.MES_ORDERS_SUBSCRIPTION, topics.mes_orders_topic("plant1", "line3")
    )
    assert not topic_matches_sub(
        topics.MES_ORDERS_SUBSCRIPTION, topics.mes_orders_reply_topic("plant1", "line3")
    )


def test_the_acks_topic_goes_from_the_server_to_one_line() -> None:
    assert topics.acks_topic("s1", "l1") == "serialtrace/v1/s1/l1/acks"
    assert topics.parse_topic("serialtrace/v1/s1/l1/acks") == LineTopic("s1", "l1", TopicKind.ACKS)


def test_line_topics_name_every_kind_of_one_line() -> None:
    line = topics.LineTopics("plant1", "line3")
    for kind in TopicKind:
        assert line.of(kind) == topics.line_topic("plant1", "line3", kind)
        assert topics.parse_topic(line.of(kind)) == LineTopic("plant1", "line3", kind)
    assert line.plc_gate == "serialtrace/v1/plant1/line3/plc/gate"
    assert line.root == "serialtrace/v1/plant1/line3/"
    assert topics.every_line(TopicKind.ACKS) == "serialtrace/v1/+/+/acks"
    with pytest.raises(TopicError, match="line: expected 1-64 characters"):
        topics.LineTopics("plant1", "line/3")
