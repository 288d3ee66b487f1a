"""Kubernetes' IP and CIDR libraries (k8s.io/apiserver/pkg/cel/library/{ip,cidr}.go).

Go's ``netip`` rules: no zones, no IPv4-mapped IPv6 addresses, no leading zeros, prefix
lengths in decimal. An address is ``{"@celType": "net.IP", "value": "<canonical>"}``; a
prefix keeps its address unmasked, as ``netip.Prefix`` does (``cidr('10.0.0.1/8').ip()``
is ``10.0.0.1``; ``.masked()`` is ``10.0.0.0/8``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from bot.analyzers.kyverno.cel.libs.base import Function, LibraryError, Method, expect, tagged

IP_TAG = "net.IP"
CIDR_TAG = "net.IPPrefix"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

_PREFIX_LENGTH = re.compile(r"0|[1-9]\d{0,2}")


def parse_address(text: str) -> Address:
    if "%" in text:
        raise LibraryError(f"IP address {text!r} with zone value is not allowed")
    try:
        address = ipaddress.ip_address(text)
    except ValueError as err:
        raise LibraryError(
            f"IP Address {text!r} parse error during conversion from string: {err}"
        ) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise LibraryError(f"IPv4-mapped IPv6 address {text!r} is not allowed")
    return address


def parse_prefix(text: str) -> Interface:
    address_text, slash, length = text.partition("/")
    if not slash or not _PREFIX_LENGTH.fullmatch(length):
        raise LibraryError(
            f"network address parse error during conversion from string: "
            f"netip.ParsePrefix({text!r}): bad bits after slash: {length!r}"
        )
    address = parse_address(address_text)
    if int(length) > address.max_prefixlen:
        raise LibraryError(
            f"network address parse error during conversion from string: "
            f"netip.ParsePrefix({text!r}): prefix length out of range"
        )
    return ipaddress.ip_interface(f"{address}/{length}")


def make_ip(address: Address) -> dict[str, Any]:
    return tagged(IP_TAG, value=str(address))


def make_cidr(prefix: Interface) -> dict[str, Any]:
    return tagged(CIDR_TAG, value=f"{prefix.ip}/{prefix.network.prefixlen}")


def address_of(value: Any) -> Address:
    return ipaddress.ip_address(expect(value, IP_TAG, "IP")["value"])


def prefix_of(value: Any) -> Interface:
    return ipaddress.ip_interface(expect(value, CIDR_TAG, "CIDR")["value"])


def _boolean(parse: Any) -> Any:
    def check(text: str) -> bool:
        try:
            parse(text)
        except LibraryError:
            return False
        return True

    return check


def is_canonical(text: str) -> bool:
    return str(parse_address(text)) == text


def is_link_local_multicast(value: Any) -> bool:
    address = address_of(value)
    if isinstance(address, ipaddress.IPv4Address):
        return address in ipaddress.ip_network("224.0.0.0/24")
    first = int(address) >> 112
    return first & 0xFF0F == 0xFF02


def is_global_unicast(value: Any) -> bool:
    # netip's definition, which (unlike Python's is_global) counts private ranges in.
    address = address_of(value)
    if isinstance(address, ipaddress.IPv4Address) and str(address) == "255.255.255.255":
        return False
    return not (
        address.is_unspecified
        or address.is_loopback
        or address.is_multicast
        or address.is_link_local
    )


def contains_ip(cidr: Any, other: Any) -> bool:
    prefix = prefix_of(cidr)
    address = parse_address(other) if isinstance(other, str) else address_of(other)
    return address.version == prefix.version and address in prefix.network


def contains_cidr(cidr: Any, other: Any) -> bool:
    outer = prefix_of(cidr).network
    inner = (parse_prefix(other) if isinstance(other, str) else prefix_of(other)).network
    if outer.version != inner.version:
        return False
    return outer.prefixlen <= inner.prefixlen and inner.subnet_of(outer)  # type: ignore[arg-type]


def _masked(prefix: Interface) -> Interface:
    return ipaddress.ip_interface(prefix.network)


def to_string(value: Any) -> str:
    if expect_either(value) == IP_TAG:
        return str(address_of(value))
    return str(expect(value, CIDR_TAG, "CIDR")["value"])


def expect_either(value: Any) -> str:
    if isinstance(value, dict) and value.get("@celType") in (IP_TAG, CIDR_TAG):
        return str(value["@celType"])
    raise LibraryError("no such overload: string() of a map that is not an IP or CIDR")


FUNCTIONS = (
    Function("ip", "string_to_ip", ("string",), "map", lambda s: make_ip(parse_address(s))),
    Function("isIP", "is_ip", ("string",), "bool", _boolean(parse_address)),
    Function("ip.isCanonical", "ip_is_canonical", ("string",), "bool", is_canonical),
    Function("cidr", "string_to_cidr", ("string",), "map", lambda s: make_cidr(parse_prefix(s))),
    Function("isCIDR", "is_cidr", ("string",), "bool", _boolean(parse_prefix)),
    Function("string", "ip_or_cidr_to_string", ("map",), "string", to_string),
)

METHODS = (
    Method("family", IP_TAG, (), "int", lambda v: address_of(v).version),
    Method("isUnspecified", IP_TAG, (), "bool", lambda v: address_of(v).is_unspecified),
    Method("isLoopback", IP_TAG, (), "bool", lambda v: address_of(v).is_loopback),
    Method("isLinkLocalMulticast", IP_TAG, (), "bool", is_link_local_multicast),
    Method(
        "isLinkLocalUnicast",
        IP_TAG,
        (),
        "bool",
        lambda v: address_of(v).is_link_local and not address_of(v).is_multicast,
    ),
    Method("isGlobalUnicast", IP_TAG, (), "bool", is_global_unicast),
    Method("containsIP", CIDR_TAG, ("string",), "bool", contains_ip),
    Method("containsIP", CIDR_TAG, ("map",), "bool", contains_ip),
    Method("containsCIDR", CIDR_TAG, ("string",), "bool", contains_cidr),
    Method("containsCIDR", CIDR_TAG, ("map",), "bool", contains_cidr),
    Method("ip", CIDR_TAG, (), "map", lambda v: make_ip(prefix_of(v).ip)),
    Method("masked", CIDR_TAG, (), "map", lambda v: make_cidr(_masked(prefix_of(v)))),
    Method("prefixLength", CIDR_TAG, (), "int", lambda v: prefix_of(v).network.prefixlen),
)
