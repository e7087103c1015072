"""The address classifier that keeps fetches away from loopback, private and internal hosts."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from did_methods.errors import ForbiddenAddress, InsecureTransport, NetworkError
from did_methods.fetch import (
    check_address,
    classify_address,
    is_public_address,
    resolve_checked,
)

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "reserved"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("169.254.0.1", "link-local"),
    ("100.64.0.1", "shared-address-space"),
    ("100.127.255.254", "shared-address-space"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved"),
    ("192.0.2.10", "reserved"),
    ("198.51.100.7", "reserved"),
    ("203.0.113.9", "reserved"),
    ("198.18.0.1", "reserved"),
    ("192.0.0.8", "reserved"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("::ffff:127.0.0.1", "ipv4-mapped"),
    ("::ffff:10.0.0.1", "ipv4-mapped"),
    ("::ffff:8.8.8.8", "ipv4-mapped"),
    ("::127.0.0.1", "ipv4-compatible"),
    ("fc00::1", "unique-local"),
    ("fd12:3456:789a::1", "unique-local"),
    ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique-local"),
    ("fe80::1", "link-local"),
    ("febf::1", "link-local"),
    ("fe80::1%1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("2001:db8::1", "reserved"),
    ("100::1", "reserved"),
    ("64:ff9b::7f00:1", "nat64:loopback"),
    ("64:ff9b::a9fe:a9fe", "nat64:link-local"),
    ("2002:7f00:1::1", "6to4:loopback"),
    ("2002:c0a8:101::1", "6to4:private"),
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "172.15.255.255",
    "172.32.0.1",
    "100.63.255.255",
    "100.128.0.1",
    "169.253.255.255",
    "223.255.255.255",
    "11.0.0.1",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001:82a::200e",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "fbff:ffff::1",
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_addresses(address: str, reason: str) -> None:
    assert classify_address(address) == reason
    assert not is_public_address(address)
    with pytest.raises(ForbiddenAddress) as info:
        check_address(address)
    assert info.value.code == "forbiddenAddress"
    assert reason in info.value.message
    check_address(address, allow_private=True)  # explicitly allowed: no error


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses(address: str) -> None:
    assert classify_address(address) is None
    assert is_public_address(ipaddress.ip_address(address))
    check_address(address)


@given(st.ip_addresses(v=4))
def test_v4_agrees_with_stdlib_on_the_obvious(ip: ipaddress.IPv4Address) -> None:
    reason = classify_address(ip)
    if ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast:
        assert reason is not None
    if reason is None:
        assert ip.is_global


@given(st.ip_addresses(v=4))
def test_mapped_v4_never_passes(ip: ipaddress.IPv4Address) -> None:
    assert classify_address(f"::ffff:{ip}") == "ipv4-mapped"


@given(st.ip_addresses(v=6))
def test_v6_refused_when_stdlib_says_not_global(ip: ipaddress.IPv6Address) -> None:
    reason = classify_address(ip)
    if not ip.is_global and not any(
        ip in ipaddress.ip_network(n) for n in ("64:ff9b::/96", "2002::/16", "64:ff9b:1::/48")
    ):
        assert reason is not None


async def test_resolve_checked_refuses_localhost_name() -> None:
    with pytest.raises(ForbiddenAddress):
        await resolve_checked("localhost", 443, allow_private=False)
    results = await resolve_checked("localhost", 443, allow_private=True)
    assert results and all(ipaddress.ip_address(r["host"]).is_loopback for r in results)


async def test_resolve_checked_literals() -> None:
    with pytest.raises(ForbiddenAddress):
        await resolve_checked("169.254.169.254", 80, allow_private=False)
    with pytest.raises(ForbiddenAddress):
        await resolve_checked("::ffff:127.0.0.1", 80, allow_private=False)
    (only,) = await resolve_checked("8.8.8.8", 443, allow_private=False)
    assert only["host"] == "8.8.8.8" and only["port"] == 443


async def test_plain_http_needs_a_loopback_address() -> None:
    # allowed private but not loopback: http is still refused
    with pytest.raises(InsecureTransport) as info:
        await resolve_checked("10.1.2.3", 80, allow_private=True, require_loopback=True)
    assert info.value.code == "insecureTransport"
    with pytest.raises(InsecureTransport):
        await resolve_checked("8.8.8.8", 80, allow_private=True, require_loopback=True)
    await resolve_checked("127.0.0.1", 80, allow_private=True, require_loopback=True)


async def test_unresolvable_host_is_network_error() -> None:
    with pytest.raises(NetworkError) as info:
        await resolve_checked("does-not-exist.invalid", 443, allow_private=False)
    assert type(info.value) is NetworkError
