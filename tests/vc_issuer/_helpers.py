"""Helpers the CLI tests share: run the real ``vc-issuer`` command in-process, open its home."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from click.testing import CliRunner, Result

from vc_issuer.badges.openbadges import (
    Achievement,
    IssuerProfile,
    build_award,
    ob_schema_compatible,
)
from vc_issuer.cli.main import main
from vc_issuer.core.keys import SigningKey
from vc_issuer.core.proofs import sign
from vc_issuer.services.home import load_home, open_issuer
from vc_issuer.services.issuer import Issuer

T = TypeVar("T")
V2 = "https://www.w3.org/ns/credentials/v2"
FIX = Path(__file__).resolve().parents[1] / "fixtures"
DI = FIX / "vc-di-eddsa"  # the W3C vc-di-eddsa test vectors


def load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def at(iso: str) -> Callable[[], datetime]:
    """A clock stopped at ``iso``."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return lambda: moment


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def ok(*args: str, input: str | None = None) -> Any:
    """Run a command that must succeed; its JSON output."""
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def in_home(home: str, work: Callable[[Issuer], Awaitable[T]]) -> T:
    """Run ``work`` on the issuer of a home the CLI made (as the commands themselves do)."""

    async def go() -> T:
        issuer = await open_issuer(load_home(Path(home)))
        try:
            return await work(issuer)
        finally:
            await issuer.close()

    return asyncio.run(go())


def alumni(key: Any, **fields: Any) -> dict[str, Any]:
    """The vc-di-eddsa unsigned credential, issued by ``key``'s DID, with ``fields`` on top."""
    doc: dict[str, Any] = load(DI / "unsigned.json")
    doc["issuer"] = key.did
    doc.update(fields)
    return doc


def init_home(tmp_path: Path, base_url: str, *options: str) -> str:
    """``vc-issuer init`` a fresh home under ``tmp_path`` (with ``options``); its path."""
    h = str(tmp_path / "home")
    result = run("init", "--home", h, "--base-url", base_url, *options)
    assert result.exit_code == 0, result.output
    return h


def issue_plain(home: str) -> str:
    """Issue a minimal VC 2.0 credential (subject Ada) in ``home``; its id."""

    async def issue(issuer: Issuer) -> str:
        cred = await issuer.issue(
            {
                "@context": [V2],
                "type": ["VerifiableCredential"],
                "credentialSubject": {"name": "Ada"},
            }
        )
        return str(cred["id"])

    return in_home(home, issue)


async def start_worker(script: Path, *args: str, timeout: float) -> asyncio.subprocess.Process:
    """Start ``python script *args`` with piped stdin, stdout and stderr; wait for it to say
    ``ready`` (within ``timeout`` seconds), else fail with what it wrote to stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    if line.strip() != b"ready":
        err = await proc.stderr.read() if proc.stderr else b""
        raise AssertionError(f"worker did not start: {line!r}\n{err.decode()[-3000:]}")
    return proc


def ob_key_controller() -> dict[str, Any]:
    """The controller of the key that signed the 1EdTech OB 3.0 eddsa-rdfc-2022 vector, as an
    issuer profile lists it (no ``@context``): its one Multikey, for assertionMethod."""
    pair = load(FIX / "open-badges-3.0" / "ldp-eddsa-rdfc-2022" / "key-pair.json")
    return {
        "id": pair["controller"],
        "verificationMethod": [
            {
                "id": pair["id"],
                "type": "Multikey",
                "controller": pair["controller"],
                "publicKeyMultibase": pair["publicKeyMultibase"],
            }
        ],
        "assertionMethod": [pair["id"]],
    }


def assert_vector_steps(steps: Any, folder: Path, suffix: str) -> None:
    """``steps`` (a suite's hashing steps) match the intermediate files of a W3C vc-di test
    vector in ``folder``: canonDoc, proofCanon, docHash, proofHash and combinedHash<suffix>.txt."""

    def text(name: str) -> str:
        return (folder / f"{name}{suffix}.txt").read_text("utf-8")

    assert steps.canonical_document == text("canonDoc")
    assert steps.canonical_proof_config == text("proofCanon")
    assert steps.document_hash.hex() == text("docHash").strip()
    assert steps.proof_config_hash.hex() == text("proofHash").strip()
    assert steps.hash_data.hex() == text("combinedHash").strip()


def signed_award(
    key: SigningKey,
    achievement: tuple[str, str, str, str],
    *,
    valid_for_months: int | None = None,
    created: datetime | None = None,
    **recipient: str,
) -> dict[str, Any]:
    """An Open Badges 3.0 award from issuer ``key.did`` ("Example"), awarded 2024-05-01 to
    ``recipient`` (build_award's recipient_did=/email=) and signed with ``key``.
    ``achievement`` is its (id, name, description, criteria narrative)."""
    ach_id, name, description, narrative = achievement
    ach = Achievement.from_json(
        {
            "id": ach_id,
            "type": ["Achievement"],
            "name": name,
            "description": description,
            "criteria": {"narrative": narrative},
        },
        valid_for_months=valid_for_months,
    )
    award = build_award(
        ach,
        IssuerProfile(id=key.did, name="Example"),
        awarded=datetime(2024, 5, 1, tzinfo=UTC),
        **recipient,  # type: ignore[arg-type]
    )
    return ob_schema_compatible(sign(award, key, created=created))


def python_101(**overrides: Any) -> dict[str, Any]:
    """The "Python 101" achievement design the badge tests start from: ``overrides`` replace
    its fields, and one given as None is left out."""
    doc: dict[str, Any] = {
        "name": "Python 101",
        "description": "Writes and tests small Python programs.",
        "criteria": {"narrative": "Pass the final project."},
        "achievementType": "Course",
        "tag": ["python", "programming"],
        "alignment": [
            {
                "targetName": "Programming",
                "targetUrl": "https://esco.example/skill/programming",
                "targetFramework": "ESCO",
                "targetCode": "S1.2",
                "targetType": "CFItem",
            }
        ],
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}
