"""Awarding with ``--notify`` against awarding without it, then sending the outbox.

Awards one achievement to N email recipients on a fresh store, twice per mode, alternating:
without notify (claim links made after each chunk, as ``vc-issuer award`` does) and with notify
(claim links and outbox rows written in the awards' own transactions). Prints the best time of
each mode and the overhead (the issue's target: at most 10%), then sends the notify run's outbox
to an aiosmtpd server on loopback (its own thread and port) and prints that time.

    python bench/bench_email.py [--count 10000] [--chunk 500] [--workers N] [--rounds 2]
                                [--database-url postgresql://...] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import time
from typing import Any

from _scratch import scratch_store
from aiosmtpd.controller import Controller

from vc_issuer.badges.awards import Awarder, AwardResult, read_csv_rows
from vc_issuer.badges.claims import ClaimService
from vc_issuer.badges.notify import ClaimNotice
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.email.config import SmtpSettings
from vc_issuer.email.outbox import Mailer
from vc_issuer.email.render import Templates
from vc_issuer.email.smtp import SmtpTransport
from vc_issuer.services.issuer import Issuer

BASE = "https://badges.example.edu"
DESIGN = {
    "name": "Python 101",
    "description": "Writes and tests small Python programs.",
    "criteria": {"narrative": "Pass the final project."},
    "achievementType": "Course",
}


def recipients_csv(count: int) -> str:
    lines = ["email,name"] + [f"learner{i}@example.edu,Learner {i}" for i in range(count)]
    return "\n".join(lines) + "\n"


class Sink:
    """The SMTP server's handler: counts what it accepted."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


async def award_once(args: argparse.Namespace, notify: bool, text: str) -> dict[str, Any]:
    async with scratch_store(args.database_url) as (store, _url):
        key = Ed25519Key.generate()
        issuer = Issuer(key=key, did=key.did, store=store, base_url=BASE, issuer_name="Bench U")
        notice = ClaimNotice(BASE, 30 * 86400) if notify else None
        awarder = Awarder(issuer, chunk_size=args.chunk, workers=args.workers, attach=notice)
        badge = await awarder.achievements.create(dict(DESIGN))
        claims = ClaimService(issuer)

        async def sink(results: list[AwardResult]) -> None:
            await claims.link_results(results)  # no-op for rows that got theirs with the award

        t0 = time.perf_counter()
        summary = await awarder.award_many(
            badge.key, read_csv_rows(io.StringIO(text)), on_results=sink, keep_results=False
        )
        elapsed = time.perf_counter() - t0
        if summary.issued != args.count:
            raise SystemExit(f"unexpected outcome: {summary.to_dict()}")
        out: dict[str, Any] = {"award_s": elapsed}
        if notify:
            out.update(await send(store, issuer, args.count))
        return out


async def send(store: Any, issuer: Issuer, count: int) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = SmtpSettings(
            host="127.0.0.1", port=port, security="none", sender="badges@example.edu"
        )
        mailer = Mailer(
            store,
            SmtpTransport(settings),
            settings,
            base_url=BASE,
            status_of=issuer.credential_status,
            templates=Templates(),
            now=issuer.now,
        )
        t0 = time.perf_counter()
        report = await mailer.send_all()
        elapsed = time.perf_counter() - t0
    finally:
        controller.stop()
    if report.sent != count or handler.count != count:
        raise SystemExit(f"sent {report.to_dict()}, server got {handler.count}")
    return {"send_s": elapsed}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    text = recipients_csv(args.count)
    plain: list[float] = []
    notified: list[float] = []
    sends: list[float] = []
    for _ in range(args.rounds):
        plain.append((await award_once(args, False, text))["award_s"])
        out = await award_once(args, True, text)
        notified.append(out["award_s"])
        sends.append(out["send_s"])
    best_plain, best_notify = min(plain), min(notified)
    overhead = (best_notify - best_plain) / best_plain * 100
    return {
        "backend": "postgresql" if args.database_url else "sqlite",
        "awards": args.count,
        "workers": args.workers,
        "rounds": args.rounds,
        "award_s": [round(t, 2) for t in plain],
        "award_notify_s": [round(t, 2) for t in notified],
        "overhead_pct": round(overhead, 1),
        "target_met": overhead <= 10.0,
        "send_s": round(min(sends), 2),
        "sent_per_s": round(args.count / min(sends), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    out = asyncio.run(run(args))
    if args.json:
        print(json.dumps(out))
        return
    print(f"backend {out['backend']}, {out['awards']} email recipients, {out['workers']} worker(s)")
    print(f"  award without notify  {min(out['award_s']):8.2f} s  (runs {out['award_s']})")
    print(
        f"  award with notify     {min(out['award_notify_s']):8.2f} s"
        f"  (runs {out['award_notify_s']})"
    )
    print(
        f"  overhead              {out['overhead_pct']:8.1f} %  (target <= 10%:"
        f" {'met' if out['target_met'] else 'MISSED'})"
    )
    print(f"  send the outbox       {out['send_s']:8.2f} s  ({out['sent_per_s']} messages/s)")


if __name__ == "__main__":
    main()
