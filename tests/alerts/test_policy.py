"""The pure delivery policy: answers, backoff, order (alerts.md, "Delivery")."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.alerts.delivery import (
    Answer,
    ClinicEndpoint,
    ClinicFormat,
    DeliveryError,
    Outcome,
    backoff_for,
    check_url,
    classify,
    clock_refused,
    load_secret,
    next_due,
    parse_retry_after,
    secret_file,
)
from portwatch.log.store import OutboxRow as Row

from .conftest import TEST_SECRET_TEXT, make_row

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _row(id: str, priority: str, next_in_s: float | None = None, escalated: bool = False) -> Row:
    return make_row(
        id=id, priority=priority, created_at=NOW,
        next_attempt_at=None if next_in_s is None else NOW + timedelta(seconds=next_in_s),
        attempts=0 if next_in_s is None else 1,
        escalated_at=NOW if escalated else None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (408, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (None, Outcome.RETRY),
        (400, Outcome.PERMANENT),
        (401, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (301, Outcome.PERMANENT),
    ],
)
def test_classify_follows_alerts_md_when_given_an_answer(
    status: int | None, outcome: Outcome
) -> None:
    """Which answers are retried and which wait for a person is the heart of the contract."""
    assert classify(Answer(status, error=None if status else "read timeout")) is outcome


@pytest.mark.parametrize(
    ("status", "body", "synchronised", "outcome"),
    [
        # The signature's time refused (issue 19): a clock is wrong and will be right.
        (401, '{"error": "expired"}', True, Outcome.RETRY),  # our inbox's own words
        (401, '{"error":"expired"}', False, Outcome.RETRY),
        (400, "Message timestamp too old", True, Outcome.RETRY),  # standardwebhooks' words
        (403, "message timestamp too new", True, Outcome.RETRY),
        # A signature that does not match: a person must fix the secret, whatever the clock.
        (401, '{"error": "forged"}', True, Outcome.PERMANENT),
        (401, '{"error": "forged"}', False, Outcome.PERMANENT),
        (401, "No matching signature found", False, Outcome.PERMANENT),
        # A 401 that does not say why: the secret, unless this gateway's clock may be wrong.
        (401, "Unauthorized", True, Outcome.PERMANENT),
        (401, "", True, Outcome.PERMANENT),
        (401, "Unauthorized", False, Outcome.RETRY),
        (401, "", False, Outcome.RETRY),
        # Only refusals of a signature count: other statuses keep their meaning.
        (404, '{"error": "expired"}', True, Outcome.PERMANENT),
        (400, "", False, Outcome.PERMANENT),
        (403, "Forbidden", False, Outcome.PERMANENT),
        (200, '{"error": "expired"}', False, Outcome.DELIVERED),
    ],
)
def test_classify_retries_a_refused_signature_time_and_an_unexplained_401_only_while_unsynchronised(
    status: int, body: str, synchronised: bool, outcome: Outcome
) -> None:
    """Issue 19: a 401 "expired" made a fever alert permanently failed; a clock mends itself."""
    assert classify(Answer(status, detail=body), clock_synchronised=synchronised) is outcome


def test_clock_refused_names_only_a_refusal_that_says_the_time_was_out_of_tolerance() -> None:
    """What `alerts list`, the log and doctor call a clock problem, and nothing else."""
    assert clock_refused(Answer(401, detail='{"error": "expired"}'))
    assert clock_refused(Answer(400, detail="Message timestamp too old"))
    assert not clock_refused(Answer(401, detail='{"error": "forged"}'))
    assert not clock_refused(Answer(401, detail="Unauthorized"))
    assert not clock_refused(Answer(500, detail='{"error": "expired"}'))
    assert not clock_refused(Answer(None, error="read timeout"))


@given(seed=st.integers(min_value=0, max_value=2**32))
def test_backoff_first_retry_is_within_ten_seconds_when_any_jitter(seed: int) -> None:
    """alerts.md: first retry within 10 s, whatever the jitter draws."""
    assert 0 < backoff_for(1, None, random.Random(seed)) <= 10.0


@given(seed=st.integers(min_value=0, max_value=2**32), attempt=st.integers(1, 10_000))
def test_backoff_never_exceeds_ten_minutes_when_no_retry_after(seed: int, attempt: int) -> None:
    """alerts.md: backoff capped at 10 min, even after thousands of attempts."""
    assert backoff_for(attempt, None, random.Random(seed)) <= 600.0


def test_backoff_grows_when_attempts_accumulate() -> None:
    """Exponential: the 5th retry waits longer than any possible 1st."""
    rng = random.Random(1)
    assert backoff_for(5, None, rng) > max(backoff_for(1, None, rng) for _ in range(100))


def test_backoff_waits_at_least_retry_after_when_server_asks() -> None:
    """A 429 with Retry-After: 120 must not be retried sooner."""
    assert backoff_for(1, 120.0, random.Random(0)) >= 120.0


def test_backoff_refuses_attempt_zero() -> None:
    """Attempt numbers start at 1; 0 is a caller bug that must not become a 0 s busy loop."""
    with pytest.raises(DeliveryError, match="attempt"):
        backoff_for(0, None, random.Random(0))


def test_retry_after_reads_http_date_when_given_one() -> None:
    """Retry-After may be an HTTP-date; it counts from now."""
    assert parse_retry_after("Fri, 20 Nov 2026 12:02:00 GMT", NOW) == 120.0
    assert parse_retry_after("30", NOW) == 30.0
    assert parse_retry_after("soon", NOW) is None


def test_next_due_keeps_routine_order_when_an_earlier_row_waits() -> None:
    """A routine row must not overtake an earlier row that is waiting for its retry."""
    rows = [_row("stuck", "routine", next_in_s=60), _row("later", "routine")]
    assert next_due(rows, NOW) is None


def test_next_due_lets_urgent_pass_when_an_earlier_row_is_stuck() -> None:
    """A stuck alert holds an urgent one back for one attempt: its own, made at once."""
    rows = [_row("stuck", "urgent", next_in_s=60), _row("fever", "urgent")]
    first = next_due(rows, NOW)
    assert first is not None
    assert first.id == "stuck"
    second = next_due(rows, NOW, skip={"stuck"}, stalled=True)
    assert second is not None
    assert second.id == "fever"


def test_next_due_releases_routine_rows_when_the_escalated_head_fails_again() -> None:
    """Once a person is told about the stuck row, its next failure lets the rest go."""
    rows = [_row("stuck", "urgent", next_in_s=60, escalated=True), _row("later", "routine")]
    assert next_due(rows, NOW) is None  # order is kept until the head's retry
    due = next_due(rows, NOW, skip={"stuck"}, stalled=False)
    assert due is not None
    assert due.id == "later"


def test_next_due_skips_rows_tried_in_this_pass() -> None:
    """A row answered with Retry-After: 0 must not be hammered within one pass."""
    rows = [_row("a", "urgent")]
    assert next_due(rows, NOW, skip={"a"}) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://clinic.example/hook",
        "http://127.0.0.1:8080/x",
        "http://[::1]/",
        "http://localhost/",
    ],
)
def test_check_url_accepts_when_https_or_loopback(url: str) -> None:
    """Loopback http is allowed for the reference inbox on the same machine."""
    check_url(url, "clinic URL")


@pytest.mark.parametrize(
    "url",
    ["http://clinic.example/hook", "http://10.0.0.5/", "ftp://x/", "https://u:p@clinic.example/"],
)
def test_check_url_refuses_when_plain_http_leaves_the_machine(url: str) -> None:
    """Health data never crosses a network unencrypted; credentials never sit in a URL."""
    with pytest.raises(DeliveryError):
        check_url(url, "clinic URL")


def test_clinic_endpoint_repr_hides_the_secret_when_printed() -> None:
    """Settings get logged and printed; the key must not be."""
    endpoint = ClinicEndpoint("https://clinic.example/", ClinicFormat.JSON, b"k" * 24)
    assert "kkkk" not in repr(endpoint)


def test_load_secret_warns_without_the_secret_when_file_is_world_readable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A readable secret file is a person's mistake to fix; the warning must not leak it."""
    path = tmp_path / "clinic.secret"
    path.write_text(TEST_SECRET_TEXT + "\n")
    path.chmod(0o644)
    with caplog.at_level(logging.DEBUG):
        assert load_secret(path) == TEST_SECRET_TEXT
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "readable by other users" in record.getMessage()
    assert "MfKQ9r8" not in caplog.text


def test_load_secret_is_silent_when_file_is_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """mode 600 is the expected case: no noise."""
    path = tmp_path / "clinic.secret"
    path.write_text(TEST_SECRET_TEXT)
    path.chmod(0o600)
    with caplog.at_level(logging.DEBUG):
        load_secret(path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_load_secret_names_the_path_when_file_is_missing(tmp_path: Path) -> None:
    """A missing credential must say which file, so a person can fix it."""
    with pytest.raises(DeliveryError, match=r"clinic\.secret"):
        load_secret(tmp_path / "clinic.secret")


def test_secret_file_uses_systemd_credentials_when_no_file_is_configured(tmp_path: Path) -> None:
    """Under systemd the secret arrives in $CREDENTIALS_DIRECTORY, never on the command line."""
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert secret_file(None, environ) == tmp_path / "clinic-secret"
    assert secret_file(Path("/etc/x"), environ) == Path("/etc/x")


def test_secret_file_says_how_to_fix_when_nothing_is_set() -> None:
    """No secret at all is a setting a person must fix; the error names both ways."""
    with pytest.raises(DeliveryError, match="LoadCredential=clinic-secret"):
        secret_file(None, {})


_ROW_SPECS = st.lists(
    st.tuples(
        st.sampled_from(["urgent", "routine"]),
        st.none() | st.integers(min_value=-60, max_value=60),
        st.booleans(),
    ),
    max_size=8,
)


@given(specs=_ROW_SPECS)
def test_next_due_keeps_order_and_urgency_when_any_queue(
    specs: list[tuple[str, int | None, bool]],
) -> None:
    """Whatever the queue: the head goes first, and never waits when an urgent row is due."""
    rows = [
        _row(f"r{i}", priority, next_in_s=offset, escalated=escalated)
        for i, (priority, offset, escalated) in enumerate(specs)
    ]

    def due(row: Row) -> bool:
        return row.next_attempt_at is None or row.next_attempt_at <= NOW

    picked = next_due(rows, NOW)
    urgent_due = any(due(r) and r.priority == "urgent" for r in rows)
    if urgent_due:
        assert picked is not None
    if picked is None:
        return
    # The head goes first: when it is due, or for its one attempt before a due urgent row.
    assert picked is rows[0]
    assert due(picked) or urgent_due
