"""CLI for badge designs and awards: ``vc-issuer achievements ...`` and ``vc-issuer award``.

Thin: parse flags, read files, call :mod:`vc_issuer.badges.achievements` /
:mod:`vc_issuer.badges.awards`.
JSON goes to stdout; messages and the batch progress bar go to stderr.
"""

from __future__ import annotations

import functools
import io
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import click

from vc_issuer.badges.achievements import AchievementService
from vc_issuer.badges.awards import (
    Awarder,
    AwardResult,
    Recipient,
    WorkerSpec,
    open_text,
    read_csv_rows,
    read_jsonl_rows,
    write_results,
)
from vc_issuer.badges.claims import ClaimService, parse_claim_ttl
from vc_issuer.badges.notify import ClaimNotice
from vc_issuer.cli.issuer import _run, signing_options
from vc_issuer.cli.main import (
    _emit,
    format_option,
    handle_errors,
    home_option,
    read_input,
    read_json_object,
)
from vc_issuer.core.jose import enveloped_token, is_enveloped
from vc_issuer.errors import (
    InputFileNotFoundError,
    InputTooLargeError,
    MalformedInputError,
    NoRecipientEmailError,
)
from vc_issuer.services.home import load_home
from vc_issuer.services.issuer import Issuer, Securing

MAX_BATCH_FILE_BYTES = 256 * 1024 * 1024


def _service(issuer: Issuer) -> AchievementService:
    return AchievementService(issuer.store, base_url=issuer.base_url)


def read_image_file(path: str) -> bytes:
    """Local image files named in achievement JSON; the service checks type and size."""
    try:
        with open(path, "rb") as fh:
            return fh.read(64 * 1024 * 1024 + 1)
    except FileNotFoundError:
        raise InputFileNotFoundError(f"image file not found: {path}") from None
    except IsADirectoryError:
        raise MalformedInputError(f"{path} is a directory") from None


def _fields(
    name: str | None,
    description: str | None,
    criteria: str | None,
    criteria_url: str | None,
    image: str | None,
    achievement_type: str | None,
    tags: tuple[str, ...],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name is not None:
        out["name"] = name
    if description is not None:
        out["description"] = description
    if criteria is not None or criteria_url is not None:
        out["criteria"] = {
            k: v for k, v in (("narrative", criteria), ("id", criteria_url)) if v is not None
        }
    if image is not None:
        out["image"] = {"id": image, "type": "Image"}
    if achievement_type is not None:
        out["achievementType"] = achievement_type
    if tags:
        out["tag"] = list(tags)
    return out


_FIELD_FLAGS = (
    "name",
    "description",
    "criteria",
    "criteria_url",
    "image",
    "achievement_type",
    "tags",
)


@dataclass(frozen=True)
class _Design:
    """The design flags ``create`` and ``update`` share, read the same way for both."""

    file: str | None
    fields: dict[str, Any]
    valid_for_months: int | None

    def document(self) -> dict[str, Any]:
        """``--file``'s JSON (or nothing) with the field flags laid over it."""
        doc = read_json_object(self.file) if self.file else {}
        doc.update(self.fields)
        return doc

    def read_file(self, path: str) -> bytes:
        """An image named in the design: relative paths are relative to ``--file``'s folder."""
        base = Path(self.file).parent if self.file and self.file != "-" else Path(".")
        target = Path(path)
        return read_image_file(str(target if target.is_absolute() else base / target))

    def months(self) -> dict[str, Any]:
        vfm = self.valid_for_months
        return {} if vfm is None else {"valid_for_months": vfm}


def _design_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the design flags; the command gets them as one ``design: _Design`` argument."""

    @functools.wraps(fn)
    def collect(*args: Any, file: str | None, valid_for_months: int | None, **kwargs: Any) -> Any:
        fields = _fields(**{flag: kwargs.pop(flag) for flag in _FIELD_FLAGS})
        return fn(*args, design=_Design(file, fields, valid_for_months), **kwargs)

    for option in reversed(
        [
            click.option("--file", "file", metavar="FILE", help="OB 3.0 Achievement JSON."),
            click.option("--name", help="Achievement name."),
            click.option("--description", help="What the badge certifies."),
            click.option("--criteria", help="How it is earned (Markdown narrative)."),
            click.option("--criteria-url", metavar="URL", help="Page describing the criteria."),
            click.option("--image", metavar="FILE|URL", help="PNG or SVG badge image."),
            click.option("--type", "achievement_type", help="achievementType, e.g. Course."),
            click.option("--tag", "tags", multiple=True, help="A tag (repeatable)."),
            click.option(
                "--valid-for-months",
                type=int,
                help="Awards expire this many months after the award date.",
            ),
        ]
    ):
        collect = option(collect)
    return collect


@click.group("achievements")
def achievements_group() -> None:
    """Badge designs (Open Badges 3.0 Achievements)."""


@achievements_group.command("create")
@home_option
@_design_options
@click.option(
    "-q", "--quiet", is_flag=True, help="Print only the new key (for KEY=$(vc-issuer ...))."
)
@handle_errors
def create_cmd(home: Path | None, design: _Design, quiet: bool) -> None:
    """Store a new achievement and print it with its id (or only its key, with --quiet).

    --file is an OB 3.0 Achievement without id; its image.id may be a local PNG or SVG file,
    which is stored and served at a stable URL. Flags override the file's fields.
    """
    doc = design.document()
    stored = _run(
        home, lambda i: _service(i).create(doc, read_file=design.read_file, **design.months())
    )
    if quiet:
        click.echo(stored.key)
        return
    _emit(stored.to_json())


@achievements_group.command("update")
@home_option
@click.argument("achievement_id", metavar="ACHIEVEMENT_ID")
@_design_options
@click.option("--expected-version", type=int, help="Refuse if the current version differs.")
@handle_errors
def update_cmd(
    home: Path | None, achievement_id: str, design: _Design, expected_version: int | None
) -> None:
    """Store a new version (--file replaces the design, flags change single fields).

    Credentials already issued keep the version they embed and stay valid.
    """
    changes = design.document()
    if not changes and design.valid_for_months is None:
        raise click.UsageError("nothing to change: give --file or field flags")
    stored = _run(
        home,
        lambda i: _service(i).update(
            achievement_id,
            changes,
            replace=design.file is not None,
            expected_version=expected_version,
            read_file=design.read_file,
            **design.months(),
        ),
    )
    _emit(stored.to_json())


@achievements_group.command("list")
@home_option
@click.option("--all", "include_archived", is_flag=True, help="Include archived achievements.")
@handle_errors
def list_cmd(home: Path | None, include_archived: bool) -> None:
    """List achievements (oldest first) as JSON."""

    async def work(issuer: Issuer) -> list[dict[str, Any]]:
        items = await _service(issuer).list(include_archived=include_archived)
        return [
            {
                "id": s.id,
                "key": s.key,
                "name": s.achievement.name,
                "version": s.version,
                "archived": s.archived,
            }
            for s in items
        ]

    _emit(_run(home, work))


@achievements_group.command("show")
@home_option
@click.argument("achievement_id", metavar="ACHIEVEMENT_ID")
@click.option("--version", "version", type=int, help="An earlier version.")
@handle_errors
def show_cmd(home: Path | None, achievement_id: str, version: int | None) -> None:
    """Print one achievement (the current version unless --version)."""
    stored = _run(home, lambda i: _service(i).get(achievement_id, version))
    _emit(stored.to_json())


@achievements_group.command("archive")
@home_option
@click.argument("achievement_id", metavar="ACHIEVEMENT_ID")
@click.option("--undo", is_flag=True, help="Unarchive.")
@handle_errors
def archive_cmd(home: Path | None, achievement_id: str, undo: bool) -> None:
    """Archive an achievement: it can no longer be awarded; issued badges stay valid."""
    stored = _run(home, lambda i: _service(i).archive(achievement_id, archived=not undo))
    _emit(stored.to_json())


# --- award ---------------------------------------------------------------------------------------


def _write_atomic_text(out: str) -> tuple[IO[str], Callable[[bool], None]]:
    """A results file written beside its target and moved into place at the end."""
    if out == "-":
        return sys.stdout, lambda ok: sys.stdout.flush()
    target = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    fh = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def finish(ok: bool) -> None:
        fh.close()
        os.replace(tmp, target)  # partial results are results too: keep them

    return fh, finish


@click.command("award")
@home_option
@click.argument("achievement_id", metavar="ACHIEVEMENT_ID")
@click.option("--recipient", "did", metavar="DID", help="The recipient's DID.")
@click.option("--email", metavar="ADDRESS", help="The recipient's email (hashed in the badge).")
@click.option("--name", help="The recipient's name.")
@click.option("--evidence-url", metavar="URL", help="Evidence of the achievement.")
@click.option("--repeat", is_flag=True, help="Award again even if this person already has it.")
@click.option("--csv", "csv_file", metavar="FILE", help="Batch: recipients CSV.")
@click.option("--jsonl", "jsonl_file", metavar="FILE", help="Batch: recipients JSON Lines.")
@click.option(
    "--out",
    metavar="FILE",
    help="Batch results CSV (default: FILE.results.csv beside the input; - for stdout).",
)
@click.option("--chunk", type=int, default=500, show_default=True, help="Rows per transaction.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Signing processes for a batch (default: one per core).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option(
    "--claim-expires",
    default="30d",
    show_default=True,
    help="Lifetime of the learners' personal claim links: 30d, 2w, 12h.",
)
@click.option(
    "--notify",
    is_flag=True,
    help="Email each new recipient their claim link (queued with the award; see docs/email.md).",
)
@format_option(
    "ldp: a Data Integrity proof. jwt: a VC-JWT (application/vc+jwt), stored as an "
    "EnvelopedVerifiableCredential; the page, baked images and wallets carry the token."
)
@signing_options
@handle_errors
def award_cmd(
    home: Path | None,
    achievement_id: str,
    did: str | None,
    email: str | None,
    name: str | None,
    evidence_url: str | None,
    repeat: bool,
    csv_file: str | None,
    jsonl_file: str | None,
    out: str | None,
    chunk: int,
    workers: int | None,
    no_progress: bool,
    claim_expires: str,
    notify: bool,
    secured_as: str,
    suites: tuple[str, ...],
    key: str | None,
    alg: str | None,
) -> None:
    """Award ACHIEVEMENT_ID to one recipient (prints the signed badge) or to every row of a
    CSV / JSONL file (columns did, email, name, evidence_url; writes a results CSV).

    Awarding is idempotent: a person who already has this badge is not awarded again, so a
    batch that stopped can simply be run again. A batch exits with 2 when some rows failed
    (see the results file), after awarding every other row.

    Every newly awarded badge gets a personal claim link (/claim/..., for the learner only:
    on stderr for one award, column claim_link of the results CSV). Its public page (column
    page_url, formerly claim_url) is the one to share.

    With --notify, the claim link of every new award is also emailed to that recipient's
    own address: the message is queued in the award's transaction and sent by the server or
    vc-issuer email send. Column notified of the results says queued or no-email; an award
    made before is not emailed again.
    """
    claim_ttl = parse_claim_ttl(claim_expires)
    securing = Securing("jwt" if secured_as == "jwt" else "ldp", tuple(suites) or None, key, alg)
    if notify:
        from vc_issuer.email.config import require_settings

        require_settings(load_home(home).home)  # refuse before awarding anything
    batch = csv_file or jsonl_file
    if csv_file and jsonl_file:
        raise click.UsageError("--csv and --jsonl exclude each other")
    if batch and (did or email or name or evidence_url):
        raise click.UsageError("--recipient/--email/--name go with one award, not with a file")
    if batch:
        count = workers or os.cpu_count() or 1
        _award_batch(
            home,
            achievement_id,
            batch,
            bool(csv_file),
            out,
            chunk,
            count,
            no_progress,
            claim_ttl,
            notify,
            securing,
        )
        return
    if out is not None:
        raise click.UsageError("--out is for batches (--csv or --jsonl)")
    evidence = ({"id": evidence_url, "type": ["Evidence"]},) if evidence_url else ()
    recipient = Recipient(did=did, email=email, name=name, evidence=evidence)
    if notify and recipient.email is None:
        raise NoRecipientEmailError("--notify needs --email: a claim link goes to its owner only")

    async def work(issuer: Issuer) -> Any:
        notice = ClaimNotice(issuer.base_url, claim_ttl.total_seconds()) if notify else None
        award = await Awarder(issuer, attach=notice, securing=securing).award(
            achievement_id, recipient, repeat=repeat
        )
        if award.claim_link:  # made and queued with the award
            return award, None
        claim = await ClaimService(issuer).create(award.credential_id, ttl=claim_ttl)
        return award, claim

    award, claim = _run(home, work, index_reserve=0)
    if not award.created:
        click.echo(
            f"already awarded: {award.credential_id} (use --repeat to award again)", err=True
        )
    click.echo(f"public page: {award.page_url} (safe to share)", err=True)
    if claim is not None:
        expires = claim.to_dict()["expires"]
        click.echo(
            f"claim link: {claim.url} (personal: send it to the learner only; expires {expires})",
            err=True,
        )
    if award.notified:
        click.echo(
            f"claim email {award.notified} for {recipient.email} (sent by the server or"
            " `vc-issuer email send`)",
            err=True,
        )
    elif notify:
        click.echo("awarded before: no new claim email queued", err=True)
    if is_enveloped(award.credential):
        click.echo(enveloped_token(award.credential))
    else:
        _emit(award.credential)


def _award_batch(
    home: Path | None,
    achievement_id: str,
    source: str,
    is_csv: bool,
    out: str | None,
    chunk: int,
    workers: int,
    no_progress: bool,
    claim_ttl: timedelta,
    notify: bool = False,
    securing: Securing | None = None,
) -> None:
    data = read_input(source) if source == "-" else _read_batch(source)
    text = open_text(data)
    total = _count_rows(text.getvalue(), is_csv)
    rows = read_csv_rows(text) if is_csv else read_jsonl_rows(text)
    target = out or ("-" if source == "-" else str(Path(source).with_suffix(".results.csv")))
    if target != "-" and Path(target).resolve() == Path(source).resolve():
        raise MalformedInputError("--out would overwrite the input file")

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=sys.stderr)
    progress = Progress(
        TextColumn("awarding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=no_progress,
        transient=False,
    )
    fh, finish = _write_atomic_text(target)
    write_results(fh, [], header=True)
    ok = False

    async def work(issuer: Issuer) -> Any:
        dirs = [str(d) for d in load_home(home).extra_context_dirs]
        spec = WorkerSpec.from_issuer(issuer, dirs)
        notice = ClaimNotice(issuer.base_url, claim_ttl.total_seconds()) if notify else None
        awarder = Awarder(
            issuer,
            chunk_size=chunk,
            workers=workers if spec is not None else 1,
            spec=spec,
            attach=notice,
            securing=securing,
        )
        task = progress.add_task("award", total=total)
        claims = ClaimService(issuer)

        async def sink(results: list[AwardResult]) -> None:
            await claims.link_results(results, ttl=claim_ttl)
            write_results(fh, results, header=False)
            fh.flush()

        return await awarder.award_many(
            achievement_id,
            rows,
            progress=lambda n: progress.advance(task, n),
            on_results=sink,
            keep_results=False,
        )

    try:
        with progress:
            summary = _run(home, work)
        ok = True
    finally:
        finish(ok)
    counts = summary.to_dict()
    if target != "-":
        counts["results"] = target
        _emit(counts)
    else:
        click.echo(
            f"{counts['issued']} issued, {counts['skipped']} skipped, {counts['errors']} errors",
            err=True,
        )
    if summary.errors:
        click.echo(f"{summary.errors} row(s) failed; see the results file", err=True)
        sys.exit(2)


def _read_batch(path: str) -> bytes:
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise InputFileNotFoundError(f"file not found: {path}") from None
    if size > MAX_BATCH_FILE_BYTES:
        raise InputTooLargeError(
            f"{path} is {size} bytes; batches are limited to {MAX_BATCH_FILE_BYTES} bytes",
        )
    return Path(path).read_bytes()


def _count_rows(text: str, is_csv: bool) -> int | None:
    """For the progress bar only (a quoted newline may make it a little high)."""
    lines = sum(1 for line in io.StringIO(text) if line.strip())
    return max(lines - 1, 0) if is_csv else lines


def register(main: click.Group) -> None:
    """Add ``achievements`` and ``award`` to the main CLI group."""
    main.add_command(achievements_group)
    main.add_command(award_cmd)
