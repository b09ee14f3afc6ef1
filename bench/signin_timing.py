"""Sign-in timing: does a refused login take as long for an unknown email as for a known one?

``python -m bench.signin_timing [--rounds N]`` starts a real ``pm serve`` with
built-in sign-in (its brute-force limits lifted, so every attempt reaches the
password check) and a tenant with one account, then sends ``N`` rounds of two
logins over HTTP, in alternating order: the known email with a wrong password,
and an unknown email. It prints the latency distribution of each and the
difference of their medians. Not part of ``make bench``: a quick, separate
check of docs/security.md's "same work for unknown and known emails".
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.server import PmServer
from pm_auth.passwords import Passwords
from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_db.unit_of_work import UnitOfWork

TENANT = "acme"
KNOWN = "alice@example.com"
UNKNOWN = "nobody@example.com"
SETTINGS = {
    "signin": "true",
    "login_rate_account_burst": 1_000_000,
    "login_rate_address_burst": 1_000_000,
}


def seed(data_dir: Path) -> None:
    def setup(uow: UnitOfWork) -> None:
        uow.users.upsert(user_id="alice", display_name="Alice", email=KNOWN)
        uow.accounts.create(
            user_id="alice", email=KNOWN, password_hash=Passwords().hash("the right password")
        )

    create_tenant(TenantPaths(data_dir), TENANT, setup)


def login_seconds(base_url: str, email: str) -> float:
    body = json.dumps({"tenant": TENANT, "email": email, "password": "a wrong password"})
    request = urllib.request.Request(
        base_url + "/v1/auth/login",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    started = time.perf_counter()
    try:
        urllib.request.urlopen(request, timeout=30).close()
    except urllib.error.HTTPError as error:
        error.read()
        if error.code != 401:
            raise RuntimeError(f"expected 401, got {error.code}") from None
    else:
        raise RuntimeError("a wrong password signed in")
    return time.perf_counter() - started


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[int(len(ms) * 0.9) - 1]
    return (
        f"p50 {statistics.median(ms):6.2f} ms  p90 {p90:6.2f} ms  "
        f"mean {statistics.fmean(ms):6.2f} ms  stdev {statistics.stdev(ms):5.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.signin_timing")
    parser.add_argument("--rounds", type=int, default=100, help="pairs of logins (default 100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pm-signin-timing-") as scratch:
        data_dir = Path(scratch) / "data"
        seed(data_dir)
        server = PmServer(data_dir, Path(scratch) / "server.log", SETTINGS).start()
        try:
            for email in (KNOWN, UNKNOWN):  # warm up: dummy hash, connections, tenant open
                login_seconds(server.base_url, email)
            times: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
            for round_ in range(args.rounds):
                order = (KNOWN, UNKNOWN) if round_ % 2 == 0 else (UNKNOWN, KNOWN)
                for email in order:
                    times[email].append(login_seconds(server.base_url, email))
        finally:
            server.stop()
    known, unknown = times[KNOWN], times[UNKNOWN]
    print(f"known email, wrong password: {summary(known)}")
    print(f"unknown email:               {summary(unknown)}")
    diff = (statistics.median(unknown) - statistics.median(known)) * 1000
    print(f"median difference (unknown - known): {diff:+.2f} ms over {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
