"""The one resolver: did:key and did:web, dereferencing, resolution results, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from did_methods.errors import (
    ForbiddenAddress,
    InvalidDID,
    InvalidDIDURL,
    InvalidDocument,
    MethodNotSupported,
    NotFound,
    VerificationMethodNotAuthorized,
)
from did_methods.key import resolve_did_key
from did_methods.registry import DIDResolver, Resolver, parse_did, split_did_url
from did_methods.web import WebResolver, build_did_web_document

TEST_DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
TEST_VM = f"{TEST_DID}#{TEST_DID[8:]}"
MULTIBASE = TEST_DID[8:]


@pytest.fixture
async def resolver() -> AsyncIterator[Resolver]:
    async with Resolver() as r:
        yield r


def test_resolver_satisfies_the_protocol() -> None:
    r: DIDResolver = Resolver()
    assert r is not None


def test_parse_and_split() -> None:
    assert parse_did("did:web:example.com") == ("web", "example.com")
    assert split_did_url(TEST_VM) == (TEST_DID, MULTIBASE)
    for bad in ["", "did:", "did:web", "DID:web:x", "did:Web:x", "urn:uuid:1", TEST_VM]:
        with pytest.raises(InvalidDID):
            parse_did(bad)
    for bad in [TEST_DID, TEST_DID + "#", "did:web:example.com/path#k", "did:web:x?service=a#k"]:
        with pytest.raises(InvalidDIDURL) as info:
            split_did_url(bad)
        assert info.value.code == "invalidDidUrl"


async def test_did_key_both_formats() -> None:
    async with Resolver() as r:
        doc = await r.resolve(TEST_DID)
        assert doc == resolve_did_key(TEST_DID)
        assert doc["verificationMethod"][0]["type"] == "Multikey"
    async with Resolver(key_format="ed25519-2020", key_agreement=False) as r:
        doc = await r.resolve(TEST_DID)
        assert doc == resolve_did_key(TEST_DID, format="ed25519-2020", key_agreement=False)
    with pytest.raises(ValueError):
        Resolver(key_format="jwk")  # type: ignore[arg-type]


async def test_dereference_did_key(resolver: Resolver) -> None:
    vm = await resolver.dereference(TEST_VM)
    assert vm == {
        "id": TEST_VM,
        "type": "Multikey",
        "controller": TEST_DID,
        "publicKeyMultibase": MULTIBASE,
    }
    doc = await resolver.resolve(TEST_DID)
    ka_id = doc["keyAgreement"][0]["id"]
    assert (await resolver.dereference(ka_id))["type"] == "Multikey"
    assert await resolver.dereference_authorized(TEST_VM, "assertionMethod") == vm
    with pytest.raises(VerificationMethodNotAuthorized) as info:
        await resolver.dereference_authorized(ka_id, "assertionMethod")
    assert info.value.code == "verificationMethodNotAuthorized"


async def test_dereference_errors(resolver: Resolver) -> None:
    with pytest.raises(NotFound):
        await resolver.dereference(TEST_DID + "#z6MkOther")
    with pytest.raises(InvalidDIDURL):
        await resolver.dereference(TEST_DID)
    with pytest.raises(InvalidDID):
        await resolver.dereference("did:key:zBAD#zBAD")
    with pytest.raises(MethodNotSupported):
        await resolver.dereference("did:example:123#key-1")


@pytest.mark.parametrize("did", ["did:example:123", "did:ion:EiA", "did:peer:2"])
async def test_unsupported_methods(resolver: Resolver, did: str) -> None:
    with pytest.raises(MethodNotSupported) as info:
        await resolver.resolve(did)
    assert info.value.code == "methodNotSupported"


@pytest.mark.parametrize("did", ["not-a-did", "did:key", TEST_VM, "did:web:example.com/x", 42])
async def test_not_dids(resolver: Resolver, did: str) -> None:
    with pytest.raises(InvalidDID):
        await resolver.resolve(did)


async def test_resolution_result_shapes(resolver: Resolver) -> None:
    ok = await resolver.resolve_with_metadata(TEST_DID)
    assert ok["didDocument"]["id"] == TEST_DID
    assert ok["didResolutionMetadata"] == {"contentType": "application/did+ld+json"}
    assert ok["didDocumentMetadata"] == {}
    for did, code in [
        ("did:key:zBAD", "invalidDid"),
        ("did:example:1", "methodNotSupported"),
        ("did:web:127.0.0.1", "forbiddenAddress"),
    ]:
        result = await resolver.resolve_with_metadata(did)
        assert result["didDocument"] is None
        assert result["didResolutionMetadata"]["error"] == code
        assert result["didResolutionMetadata"]["errorMessage"]


# --------------------------------------------------------------------------- did:web


ServerFactory = Callable[..., Awaitable[TestServer]]


def _did(request: web.Request, *path: str) -> str:
    return "did:web:" + request.host.replace(":", "%3A") + "".join(":" + p for p in path)


@pytest.fixture
async def server(aiohttp_server: ServerFactory) -> TestServer:
    async def good(request: web.Request) -> web.Response:
        return web.json_response(build_did_web_document(_did(request), MULTIBASE, key_id="key-1"))

    async def foreign(request: web.Request) -> web.Response:
        did = _did(request, "foreign")
        doc = build_did_web_document(did, MULTIBASE, key_id="key-1")
        doc["verificationMethod"][0]["controller"] = "did:web:victim.example"
        return web.json_response(doc)

    app = web.Application()
    app.router.add_get("/.well-known/did.json", good)
    app.router.add_get("/foreign/did.json", foreign)
    return await aiohttp_server(app, host="127.0.0.1")


async def test_did_web_through_the_registry(server: TestServer) -> None:
    did = f"did:web:127.0.0.1%3A{server.port}"
    async with Resolver(allow_private=True) as r:
        doc = await r.resolve(did)
        assert doc["id"] == did
        vm = await r.dereference(f"{did}#key-1")
        assert vm["controller"] == did and vm["publicKeyMultibase"] == MULTIBASE
        await r.dereference_authorized(f"{did}#key-1", "assertionMethod")
        with pytest.raises(NotFound):
            await r.dereference(f"{did}#key-2")
        result = await r.resolve_with_metadata(did)
        assert result["didDocument"] == doc


async def test_key_controlled_by_another_did_is_refused(server: TestServer) -> None:
    did = f"did:web:127.0.0.1%3A{server.port}:foreign"
    async with Resolver(allow_private=True) as r:
        with pytest.raises(InvalidDocument, match="controlled by"):
            await r.dereference(f"{did}#key-1")


async def test_given_web_resolver_is_used(server: TestServer) -> None:
    did = f"did:web:127.0.0.1%3A{server.port}"
    async with Resolver() as strict:
        with pytest.raises(ForbiddenAddress):
            await strict.resolve(did)
    web_resolver = WebResolver(allow_private=True)
    try:
        r = Resolver(web=web_resolver)
        assert r.allow_private
        assert (await r.resolve(did))["id"] == did
        await r.close()  # does not close a resolver it was given
        assert (await web_resolver.resolve(did))["id"] == did
    finally:
        await web_resolver.close()
