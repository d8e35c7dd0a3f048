"""Dependency audit for CI (issue #10): no installed distribution with a known vulnerability.

Run with the interpreter of the environment to audit (``./dev audit`` does):

    .venv/bin/python tools/audit_deps.py [--pip-audit-json FILE]

Every installed distribution except this project gets one verdict:

- ``vulnerable``: a source that covers the installed version lists a vulnerability
  (withdrawn reports excepted). Any one makes the audit fail.
- ``clean``: a source that covers the installed version lists none.
- ``unchecked``: no source here can judge the installed version; said by name with the
  reason, never counted as passed.

Sources, best first:

1. pip-audit's JSON report (``--pip-audit-json``), for each dependency it judged (one
   without a ``skip_reason``). pip-audit's PyPI service asks PyPI's release endpoint
   ``/pypi/<name>/<version>/json``; where that is unreachable (as on the project's
   machines, which answer 404) it skips every dependency and still says "No known
   vulnerabilities found": those skips are judged here instead, never taken as passes.
2. PyPI's project endpoint ``/pypi/<name>/json``. Its ``vulnerabilities`` list covers only
   the project's most recent release (PyPI's JSON API documentation, "Project"), so it
   judges an installed version only when that version is the latest; an older installed
   version is ``unchecked``.

Exit status: 0 when nothing judged is vulnerable; 1 when something is; 2 on bad usage or
a malformed pip-audit report; 3 when PyPI could not be reached for any distribution (the
audit did not happen). ``.ci/run`` turns 3 into a loud notice rather than a red build: an
outage of PyPI is not a defect of this project, but the notice and the summary line
(``0 checked``) say that nothing was checked.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = [
    "AuditInputError",
    "Finding",
    "Installed",
    "Verdict",
    "audit",
    "exit_status",
    "judge_project_json",
    "pip_audit_verdicts",
    "summary",
]

DESCRIPTION: Final = "Audit the installed distributions for known vulnerabilities (issue #10)."
# PyPI's JSON API; the project endpoint is <PYPI_JSON_API>/<name>/json.
PYPI_JSON_API: Final = "https://pypi.org/pypi"
# This project itself (installed editable); it is not audited against PyPI.
OWN_PROJECT: Final = "portwatch"
# Each request: this long at most, tried this many times with a doubling pause between
# (a network blip must not mark a package unchecked; a PyPI outage must end the run).
FETCH_TIMEOUT_S: Final = 15.0
FETCH_ATTEMPTS: Final = 3
FETCH_PAUSE_S: Final = 1.0
FETCH_THREADS: Final = 8

EXIT_OK: Final = 0
EXIT_VULNERABLE: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNREACHABLE: Final = 3


class AuditInputError(ValueError):
    """A pip-audit report or PyPI answer is not shaped as documented; says which and where."""


class Verdict(StrEnum):
    CLEAN = "clean"
    VULNERABLE = "vulnerable"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class Installed:
    name: str  # canonical (PEP 503) name
    version: str


@dataclass(frozen=True, slots=True)
class Finding:
    name: str
    version: str
    verdict: Verdict
    source: str  # "pip-audit", "pypi-project", or "" when nothing could judge it
    detail: str  # vulnerability ids, or why it is unchecked
    unreachable: bool = False  # unchecked because PyPI did not answer


class FetchError(Exception):
    """PyPI did not answer (network, timeout, 5xx) after every attempt."""


class NotOnPyPI(Exception):
    """PyPI answered 404 for the project."""


Fetch = Callable[[str], Mapping[str, Any]]


def judge_project_json(dist: Installed, doc: Mapping[str, Any]) -> Finding:
    """Judge `dist` from PyPI's project JSON: only when it is the latest release.

    Raises:
        AuditInputError: `doc` lacks ``info.version`` or a list of ``vulnerabilities``.
    """
    info = doc.get("info")
    latest = info.get("version") if isinstance(info, Mapping) else None
    vulns = doc.get("vulnerabilities")
    if not isinstance(latest, str) or not isinstance(vulns, list):
        raise AuditInputError(
            f"PyPI's project JSON for {dist.name} has no info.version or vulnerabilities list"
        )
    if not all(isinstance(v, Mapping) for v in vulns):
        raise AuditInputError(
            f"PyPI's project JSON for {dist.name} has a vulnerability that is not an object"
        )
    try:
        same = Version(dist.version) == Version(latest)
    except InvalidVersion:
        return Finding(
            dist.name,
            dist.version,
            Verdict.UNCHECKED,
            "",
            f"version {dist.version!r} or PyPI's latest {latest!r} is not a PEP 440 version",
        )
    if not same:
        return Finding(
            dist.name,
            dist.version,
            Verdict.UNCHECKED,
            "",
            f"PyPI lists vulnerabilities for its latest release {latest} only",
        )
    live = [v for v in vulns if not v.get("withdrawn")]  # a withdrawn report is void
    if live:
        return Finding(dist.name, dist.version, Verdict.VULNERABLE, "pypi-project", _ids(live))
    return Finding(dist.name, dist.version, Verdict.CLEAN, "pypi-project", "")


def pip_audit_verdicts(report: Mapping[str, Any]) -> dict[str, Finding]:
    """The dependencies pip-audit judged (those without a skip_reason), by canonical name.

    Raises:
        AuditInputError: the report has no ``dependencies`` list, or an entry lacks a name,
            a version or its ``vulns`` list.
    """
    deps = report.get("dependencies")
    if not isinstance(deps, list):
        raise AuditInputError("pip-audit report: no 'dependencies' list")
    judged: dict[str, Finding] = {}
    for index, dep in enumerate(deps):
        if not isinstance(dep, Mapping) or not isinstance(dep.get("name"), str):
            raise AuditInputError(f"pip-audit report: dependencies[{index}] has no name")
        if dep.get("skip_reason"):  # skipped: not judged (absent or null when judged)
            continue
        version, vulns = dep.get("version"), dep.get("vulns")
        if not isinstance(version, str) or not isinstance(vulns, list):
            raise AuditInputError(
                f"pip-audit report: dependencies[{index}] ({dep['name']}) has no version "
                "or vulns list"
            )
        name = canonicalize_name(dep["name"])
        if vulns:
            judged[name] = Finding(name, version, Verdict.VULNERABLE, "pip-audit", _ids(vulns))
        else:
            judged[name] = Finding(name, version, Verdict.CLEAN, "pip-audit", "")
    return judged


def audit(
    installed: Iterable[Installed],
    fetch: Fetch,
    pip_audit: Mapping[str, Finding] | None = None,
    threads: int = FETCH_THREADS,
) -> list[Finding]:
    """One finding per installed distribution, sorted by name.

    pip-audit's verdict is used where it judged the installed version; PyPI's project
    JSON (through `fetch`) for the rest.
    """
    judged = dict(pip_audit or {})

    def one(dist: Installed) -> Finding:
        prior = judged.get(dist.name)
        if prior is not None and prior.version == dist.version:
            return prior
        try:
            return judge_project_json(dist, fetch(dist.name))
        except NotOnPyPI:
            return Finding(dist.name, dist.version, Verdict.UNCHECKED, "", "not on PyPI")
        except AuditInputError as exc:
            return Finding(dist.name, dist.version, Verdict.UNCHECKED, "", str(exc))
        except FetchError as exc:
            return Finding(
                dist.name,
                dist.version,
                Verdict.UNCHECKED,
                "",
                f"PyPI unreachable: {exc}",
                unreachable=True,
            )

    dists = sorted(set(installed), key=lambda d: (d.name, d.version))
    with ThreadPoolExecutor(max(1, threads)) as pool:
        return list(pool.map(one, dists))


def exit_status(findings: Sequence[Finding]) -> int:
    if any(f.verdict is Verdict.VULNERABLE for f in findings):
        return EXIT_VULNERABLE
    if findings and all(f.unreachable for f in findings):
        return EXIT_UNREACHABLE
    return EXIT_OK


def summary(findings: Sequence[Finding]) -> str:
    """The closing line: counts of checked, vulnerable and unchecked, and by which source."""
    checked = [f for f in findings if f.verdict is not Verdict.UNCHECKED]
    vulnerable = sum(f.verdict is Verdict.VULNERABLE for f in findings)
    unchecked = len(findings) - len(checked)
    by_pip_audit = sum(f.source == "pip-audit" for f in checked)
    line = (
        f"audit: {len(checked)} checked ({by_pip_audit} by pip-audit, "
        f"{len(checked) - by_pip_audit} by PyPI's project JSON), "
        f"{vulnerable} vulnerable, {unchecked} unchecked"
    )
    if findings and all(f.unreachable for f in findings):
        line += " - NOT RUN: PyPI unreachable"
    return line


def report_lines(findings: Sequence[Finding]) -> list[str]:
    """One line per vulnerable distribution, then one per unchecked one, by name."""
    lines = []
    for f in findings:
        if f.verdict is Verdict.VULNERABLE:
            lines.append(f"VULNERABLE {f.name} {f.version}: {f.detail} (from {f.source})")
    for f in findings:
        if f.verdict is Verdict.UNCHECKED:
            lines.append(f"unchecked  {f.name} {f.version}: {f.detail}")
    return lines


def _ids(vulns: Iterable[Mapping[str, Any]]) -> str:
    """Each vulnerability's id and the versions that fix it (pip-audit's or PyPI's key)."""
    parts = []
    for vuln in vulns:
        fixed = vuln.get("fix_versions") or vuln.get("fixed_in") or []
        where = f"fixed in {', '.join(map(str, fixed))}" if fixed else "no fix listed"
        parts.append(f"{vuln.get('id', '?')} ({where})")
    return ", ".join(parts)


def fetch_project(
    name: str,
    api: str = PYPI_JSON_API,
    attempts: int = FETCH_ATTEMPTS,
    pause_s: float = FETCH_PAUSE_S,
) -> Mapping[str, Any]:
    """PyPI's project JSON for `name`, retried on network errors and 5xx.

    Raises:
        NotOnPyPI: PyPI answered 404.
        FetchError: no usable answer after every attempt.
    """
    url = f"{api.rstrip('/')}/{name}/json"
    pause = pause_s
    last = "no attempt made"
    for attempt in range(attempts):
        if attempt:
            time.sleep(pause)
            pause *= 2
        try:
            # S310: the URL is PyPI's (or, in tests, a loopback server's) http(s) address.
            request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as answer:  # noqa: S310
                doc = json.load(answer)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise NotOnPyPI(name) from exc
            last = f"HTTP {exc.code}"
            continue
        except urllib.error.URLError as exc:
            last = f"{type(exc).__name__}: {exc.reason}"
            continue
        except (TimeoutError, OSError, ValueError) as exc:  # ValueError: not JSON
            last = f"{type(exc).__name__}: {exc}"
            continue
        if not isinstance(doc, Mapping):
            last = "answer is not a JSON object"
            continue
        return doc
    raise FetchError(last)


def installed_here() -> list[Installed]:
    """Every distribution of this interpreter's environment but this project."""
    found = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or canonicalize_name(name) == OWN_PROJECT:
            continue
        found.add(Installed(canonicalize_name(name), dist.version))
    return sorted(found, key=lambda d: d.name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument(
        "--pip-audit-json",
        type=Path,
        help="pip-audit's --format json report of this environment, if it ran",
    )
    parser.add_argument(
        "--api",
        default=PYPI_JSON_API,
        help=f"base of the JSON API (default {PYPI_JSON_API}); tests point it at loopback",
    )
    args = parser.parse_args(argv)
    pip_audit: dict[str, Finding] = {}
    if args.pip_audit_json is not None:
        try:
            pip_audit = pip_audit_verdicts(json.loads(args.pip_audit_json.read_text()))
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"audit: cannot use {args.pip_audit_json}: {exc}\n")
            return EXIT_USAGE
    findings = audit(installed_here(), partial(fetch_project, api=args.api), pip_audit)
    sys.stdout.write("".join(f"{line}\n" for line in report_lines(findings)))
    sys.stdout.write(summary(findings) + "\n")
    return exit_status(findings)


if __name__ == "__main__":
    sys.exit(main())
