"""The dependency audit's judgement, on canned PyPI and pip-audit answers (offline).

The online part is the CI step itself (``./dev audit`` in ``.ci/run``); these tests pin
down what it may conclude from what it is told, including a loopback HTTP server standing
in for PyPI (a fake at a true system edge: the real index is not reachable from tests).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def project_json(latest: str, *vulns: Mapping[str, Any]) -> dict[str, Any]:
    """PyPI's project JSON, cut to the fields the audit reads (as PyPI documents them)."""
    return {"info": {"name": "x", "version": latest}, "vulnerabilities": list(vulns)}


def vuln(ident: str, *fixed_in: str, withdrawn: str | None = None) -> dict[str, Any]:
    return {
        "id": ident,
        "aliases": [],
        "details": "",
        "summary": "",
        "fixed_in": list(fixed_in),
        "link": f"https://osv.dev/vulnerability/{ident}",
        "source": "osv",
        "withdrawn": withdrawn,
    }


def fetcher(docs: Mapping[str, Any], errors: Mapping[str, Exception] | None = None) -> Any:
    def fetch(name: str) -> Mapping[str, Any]:
        if errors and name in errors:
            raise errors[name]
        return docs[name]

    return fetch


def test_audit_fails_when_latest_installed_release_has_a_vulnerability(
    audit_deps: ModuleType,
) -> None:
    """The one case PyPI's project JSON covers: the installed version is the latest."""
    dist = audit_deps.Installed("aiohttp", "3.14.5")
    findings = audit_deps.audit(
        [dist], fetcher({"aiohttp": project_json("3.14.5", vuln("PYSEC-1", "3.14.6"))})
    )
    assert [f.verdict for f in findings] == [audit_deps.Verdict.VULNERABLE]
    assert "PYSEC-1 (fixed in 3.14.6)" in findings[0].detail
    assert audit_deps.exit_status(findings) == audit_deps.EXIT_VULNERABLE


def test_audit_reports_unchecked_not_clean_when_installed_release_is_not_latest(
    audit_deps: ModuleType,
) -> None:
    """PyPI lists vulnerabilities of its latest release only: an older one is not judged."""
    findings = audit_deps.audit(
        [audit_deps.Installed("pyee", "13.0.1")], fetcher({"pyee": project_json("16.0.1")})
    )
    assert findings[0].verdict is audit_deps.Verdict.UNCHECKED
    assert "16.0.1" in findings[0].detail
    assert audit_deps.summary(findings).startswith(
        "audit: 0 checked (0 by pip-audit, 0 by PyPI's project JSON), 0 vulnerable, 1 unchecked"
    )


def test_audit_reports_unchecked_when_only_latest_release_lists_a_vulnerability(
    audit_deps: ModuleType,
) -> None:
    """A vulnerability listed for the latest release does not condemn an older one either.

    It may be newer than the installed version; the audit says it cannot tell.
    """
    findings = audit_deps.audit(
        [audit_deps.Installed("bumble", "0.0.236")],
        fetcher({"bumble": project_json("0.0.240", vuln("GHSA-x"))}),
    )
    assert findings[0].verdict is audit_deps.Verdict.UNCHECKED
    assert audit_deps.exit_status(findings) == audit_deps.EXIT_OK


def test_audit_ignores_report_when_it_was_withdrawn(audit_deps: ModuleType) -> None:
    """PyPI keeps withdrawn reports with a timestamp; they are not vulnerabilities."""
    findings = audit_deps.audit(
        [audit_deps.Installed("idna", "3.11")],
        fetcher({"idna": project_json("3.11", vuln("PYSEC-2", withdrawn="2026-01-01T00:00:00Z"))}),
    )
    assert findings[0].verdict is audit_deps.Verdict.CLEAN


def test_audit_compares_versions_by_pep440_when_spelled_differently(
    audit_deps: ModuleType,
) -> None:
    """1.0 installed is PyPI's 1.0.0: a spelling difference must not leave it unchecked."""
    findings = audit_deps.audit(
        [audit_deps.Installed("x", "1.0")], fetcher({"x": project_json("1.0.0")})
    )
    assert findings[0].verdict is audit_deps.Verdict.CLEAN


# No deadline: each example starts a thread pool, slow on a loaded CI machine.
@settings(print_blob=True, deadline=None)
@given(
    installed=st.tuples(st.integers(0, 30), st.integers(0, 30)),
    latest=st.tuples(st.integers(0, 30), st.integers(0, 30)),
    vulnerable=st.booleans(),
)
def test_audit_never_calls_clean_when_installed_differs_from_latest(
    audit_deps: ModuleType, installed: tuple[int, int], latest: tuple[int, int], vulnerable: bool
) -> None:
    """Whatever the versions, a version PyPI's list does not cover is never a pass."""
    mine, theirs = ".".join(map(str, installed)), ".".join(map(str, latest))
    doc = project_json(theirs, *([vuln("V")] if vulnerable else []))
    (finding,) = audit_deps.audit([audit_deps.Installed("x", mine)], fetcher({"x": doc}), threads=1)
    if installed != latest:
        assert finding.verdict is audit_deps.Verdict.UNCHECKED
    else:
        assert finding.verdict is (
            audit_deps.Verdict.VULNERABLE if vulnerable else audit_deps.Verdict.CLEAN
        )


def pip_audit_report(*deps: Mapping[str, Any]) -> dict[str, Any]:
    """pip-audit's --format json report."""
    return {"dependencies": list(deps), "fixes": []}


def test_audit_uses_pip_audit_verdict_when_it_judged_the_installed_version(
    audit_deps: ModuleType,
) -> None:
    """pip-audit asks about the exact version: its verdict stands even for an old release."""
    judged = audit_deps.pip_audit_verdicts(
        pip_audit_report(
            {
                "name": "PyEE",
                "version": "13.0.1",
                "skip_reason": None,  # as a judged entry may carry it
                "vulns": [
                    {"id": "GHSA-y", "fix_versions": ["13.0.2"], "aliases": [], "description": ""}
                ],
            }
        )
    )
    findings = audit_deps.audit(
        [audit_deps.Installed("pyee", "13.0.1")],
        fetcher({"pyee": project_json("16.0.1")}),
        judged,
    )
    assert findings[0].verdict is audit_deps.Verdict.VULNERABLE
    assert findings[0].source == "pip-audit"
    assert "GHSA-y (fixed in 13.0.2)" in findings[0].detail


def test_audit_judges_itself_when_pip_audit_skipped_every_dependency(
    audit_deps: ModuleType,
) -> None:
    """pip-audit says "No known vulnerabilities" after skipping all (404s): not a pass."""
    report = pip_audit_report(
        {"name": "aiohttp", "skip_reason": "Dependency not found on PyPI and could not be audited"},
        {"name": "pyee", "skip_reason": "Dependency not found on PyPI and could not be audited"},
    )
    findings = audit_deps.audit(
        [audit_deps.Installed("aiohttp", "3.14.5"), audit_deps.Installed("pyee", "13.0.1")],
        fetcher(
            {"aiohttp": project_json("3.14.5", vuln("PYSEC-3")), "pyee": project_json("16.0.1")}
        ),
        audit_deps.pip_audit_verdicts(report),
    )
    assert [(f.name, f.verdict) for f in findings] == [
        ("aiohttp", audit_deps.Verdict.VULNERABLE),
        ("pyee", audit_deps.Verdict.UNCHECKED),
    ]


def test_pip_audit_report_is_refused_when_an_entry_has_no_vulns_list(
    audit_deps: ModuleType,
) -> None:
    """A report we cannot read must stop the audit, naming the entry, not count as clean."""
    with pytest.raises(audit_deps.AuditInputError, match=r"dependencies\[1\] \(b\)"):
        audit_deps.pip_audit_verdicts(
            pip_audit_report(
                {"name": "a", "version": "1", "vulns": []}, {"name": "b", "version": "2"}
            )
        )


def test_audit_lists_package_unchecked_when_pypi_answer_is_malformed(
    audit_deps: ModuleType,
) -> None:
    """A project JSON without a vulnerabilities list judges nothing; it is said by name."""
    findings = audit_deps.audit(
        [audit_deps.Installed("x", "1")], fetcher({"x": {"info": {"version": "1"}}})
    )
    assert findings[0].verdict is audit_deps.Verdict.UNCHECKED
    assert "x" in audit_deps.report_lines(findings)[0]


def test_audit_exits_unreachable_when_pypi_answers_for_no_package(
    audit_deps: ModuleType,
) -> None:
    """A PyPI outage is not a pass: the summary says NOT RUN and the status is distinct."""
    down = audit_deps.FetchError("URLError: timed out")
    dists = [audit_deps.Installed("a", "1"), audit_deps.Installed("b", "2")]
    findings = audit_deps.audit(dists, fetcher({}, {"a": down, "b": down}))
    assert audit_deps.exit_status(findings) == audit_deps.EXIT_UNREACHABLE
    assert audit_deps.summary(findings).endswith("2 unchecked - NOT RUN: PyPI unreachable")


def test_audit_names_unreached_package_when_pypi_fails_for_some(
    audit_deps: ModuleType,
) -> None:
    """Partial failure: the others are judged; the unreached one is listed, not passed."""
    down = audit_deps.FetchError("HTTP 503")
    findings = audit_deps.audit(
        [audit_deps.Installed("a", "1"), audit_deps.Installed("b", "2")],
        fetcher({"a": project_json("1")}, {"b": down}),
    )
    assert audit_deps.exit_status(findings) == audit_deps.EXIT_OK
    assert audit_deps.report_lines(findings) == ["unchecked  b 2: PyPI unreachable: HTTP 503"]
    assert "1 checked" in audit_deps.summary(findings)


class _Index(BaseHTTPRequestHandler):
    """A loopback stand-in for PyPI's JSON API: /ok/json, /gone/json (404), /flaky/json."""

    answers: ClassVar[dict[str, list[int]]] = {}

    def do_GET(self) -> None:
        name = self.path.strip("/").removesuffix("/json")
        codes = self.answers.get(name, [404])
        code = codes.pop(0) if len(codes) > 1 else codes[0]
        body = json.dumps(project_json("1.0")).encode() if code == 200 else b"{}"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # urllib would send loopback to a proxy
    _Index.answers = {"ok": [200], "flaky": [503, 502, 200], "down": [503]}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_fetch_retries_then_answers_when_index_fails_twice(
    audit_deps: ModuleType, index: str
) -> None:
    """A 5xx blip is retried; the third answer counts."""
    doc = audit_deps.fetch_project("flaky", api=index, attempts=3, pause_s=0)
    assert doc["info"]["version"] == "1.0"


def test_fetch_raises_not_on_pypi_when_index_answers_404(
    audit_deps: ModuleType, index: str
) -> None:
    """404 means the project is not there (a local or private package), not an outage."""
    with pytest.raises(audit_deps.NotOnPyPI):
        audit_deps.fetch_project("gone", api=index, attempts=3, pause_s=0)


def test_fetch_raises_fetch_error_when_index_keeps_failing(
    audit_deps: ModuleType, index: str
) -> None:
    """After every attempt fails the error says why, for the unchecked line."""
    with pytest.raises(audit_deps.FetchError, match="HTTP 503"):
        audit_deps.fetch_project("down", api=index, attempts=2, pause_s=0)
