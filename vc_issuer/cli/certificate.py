"""``vc-issuer certificate CREDENTIAL_ID --out FILE.pdf``: the printable certificate of a badge
this home issued, the same page ``/c/{page_id}/certificate.pdf`` serves.

The standing printed (revoked, suspended, expired) comes from the home's own records: its
status bits and the credential's dates, not a network verification of our own signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from vc_issuer.badges.achievements import AchievementService
from vc_issuer.badges.openbadges import Achievement
from vc_issuer.badges.sharing import shown_credential
from vc_issuer.cli.badges import _embedded_achievement, _write_output, out_option
from vc_issuer.cli.issuer import _run
from vc_issuer.cli.main import _emit, handle_errors, home_option
from vc_issuer.errors import VCIssuerError
from vc_issuer.services.issuer import Issuer


async def _badge_image(issuer: Issuer, credential: Mapping[str, Any]) -> bytes | None:
    """The stored image of the achievement version the badge embeds (None: not stored here,
    or not an Open Badge; the certificate then shows the default badge)."""
    service = AchievementService(issuer.store, base_url=issuer.base_url)
    try:
        achievement = Achievement.from_json(dict(_embedded_achievement(credential)))
        return await service.image_bytes_for(achievement)
    except VCIssuerError:
        return None


@click.command("certificate")
@home_option
@click.argument("credential_id", metavar="CREDENTIAL_ID")
@out_option("FILE.pdf", "Where to write the PDF (- for stdout).")
@click.option(
    "--paper",
    type=click.Choice(["a4", "letter"]),
    default="a4",
    show_default=True,
    help="Paper size (landscape).",
)
@handle_errors
def certificate_cmd(home: Path | None, credential_id: str, out: str, paper: str) -> None:
    """Write the printable certificate (PDF) of CREDENTIAL_ID, a badge this home issued.

    It shows the badge image, the learner, the achievement, the issuer's name and DID, the
    dates and a QR code to the badge's public page; a revoked, suspended or expired badge is
    marked as such.
    """
    # ReportLab loads in about 0.2 s: only this command pays for it.
    from vc_issuer.badges.certificate import (
        CertificateData,
        render_certificate,
        standing_from_status,
    )

    async def work(issuer: Issuer) -> tuple[bytes, dict[str, Any]]:
        record = await issuer.get_record(credential_id)
        status = await issuer.credential_status(credential_id)
        page_url = f"{issuer.base_url}/c/{record.page_id}"
        credential = shown_credential(record.credential)  # a JWT's payload, else itself
        data = CertificateData.from_credential(credential, page_url)
        standing = standing_from_status(status, data, datetime.now(UTC))
        image = await _badge_image(issuer, credential)
        pdf = render_certificate(data, image=image, standing=standing, paper=paper)
        summary = {
            "credentialId": credential_id,
            "pageUrl": page_url,
            "standing": standing.label,
            "paper": paper,
            "bytes": len(pdf),
        }
        return pdf, summary

    pdf, summary = _run(home, work)
    _write_output(out, pdf)
    if out != "-":
        _emit({**summary, "file": out})


def register(main: click.Group) -> None:
    """Add ``certificate`` to the main CLI group."""
    main.add_command(certificate_cmd)


__all__ = ["certificate_cmd", "register"]
