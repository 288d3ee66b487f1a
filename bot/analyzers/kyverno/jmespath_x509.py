"""Kyverno's ``x509_decode``: a PEM certificate or certificate request as Go's JSON of it.

The view holds the fields of Go's ``x509.Certificate`` / ``x509.CertificateRequest`` as
``encoding/json`` writes them (the ones policies read). Separate because it is the only function
that needs ``cryptography`` and Go's certificate field names.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from bot.analyzers.kyverno.jmespath_arguments import FunctionTable, arg, fail


def _fn_x509_decode(name: str, args: list[Any]) -> Any:
    return _decode_pem(name, arg(name, args, 0, "string"))


_NAME_FIELDS = (
    ("Country", "2.5.4.6"),
    ("Organization", "2.5.4.10"),
    ("OrganizationalUnit", "2.5.4.11"),
    ("Locality", "2.5.4.7"),
    ("Province", "2.5.4.8"),
    ("StreetAddress", "2.5.4.9"),
    ("PostalCode", "2.5.4.17"),
)


def _pkix_name(name: Any) -> dict[str, Any]:
    attributes = list(name)
    view: dict[str, Any] = {}
    for field, oid in _NAME_FIELDS:
        found = [str(a.value) for a in attributes if a.oid.dotted_string == oid]
        view[field] = found or None
    serial = [str(a.value) for a in attributes if a.oid.dotted_string == "2.5.4.5"]
    common = [str(a.value) for a in attributes if a.oid.dotted_string == "2.5.4.3"]
    view["SerialNumber"] = serial[0] if serial else ""
    view["CommonName"] = common[0] if common else ""
    view["Names"] = [
        {"Type": [int(p) for p in a.oid.dotted_string.split(".")], "Value": str(a.value)}
        for a in attributes
    ]
    view["ExtraNames"] = None
    return view


def _go_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _decode_pem(name: str, text: str) -> dict[str, Any]:
    # imported on first use: cryptography.x509 takes ~25 ms to import and few policies decode
    # certificates
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    match = re.search(r"-----BEGIN ([A-Z ]+)-----", text)
    if match is None:
        raise fail(name, "failed to decode PEM block")
    kind = match[1]
    try:
        if kind == "CERTIFICATE":
            certificate: Any = x509.load_pem_x509_certificate(text.encode())
        elif kind == "CERTIFICATE REQUEST":
            certificate = x509.load_pem_x509_csr(text.encode())
        else:
            raise fail(name, "PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST")
    except ValueError as error:
        raise fail(name, f"x509: {error}") from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise fail(name, "certificate should use rsa algorithm")
    numbers = key.public_numbers()
    view: dict[str, Any] = {
        "Subject": _pkix_name(certificate.subject),
        "PublicKey": {"N": str(numbers.n), "E": numbers.e},
        "PublicKeyAlgorithm": 1,
        "Signature": base64.b64encode(certificate.signature).decode(),
    }
    if kind == "CERTIFICATE REQUEST":
        view["Version"] = 0
        return view
    view.update(
        {
            "Version": certificate.version.value + 1,
            "SerialNumber": certificate.serial_number,
            "Issuer": _pkix_name(certificate.issuer),
            "NotBefore": _go_time(certificate.not_valid_before_utc),
            "NotAfter": _go_time(certificate.not_valid_after_utc),
        }
    )
    view.update(_certificate_extensions(certificate))
    return view


def _certificate_extensions(certificate: Any) -> dict[str, Any]:
    from cryptography import x509

    view: dict[str, Any] = {
        "BasicConstraintsValid": False,
        "IsCA": False,
        "MaxPathLen": -1,
        "DNSNames": None,
        "EmailAddresses": None,
        "IPAddresses": None,
        "URIs": None,
    }
    try:
        basic = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        view.update(
            BasicConstraintsValid=True,
            IsCA=basic.ca,
            MaxPathLen=basic.path_length if basic.path_length is not None else -1,
        )
    except x509.ExtensionNotFound:
        pass
    try:
        alt = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        view["DNSNames"] = alt.get_values_for_type(x509.DNSName) or None
        view["EmailAddresses"] = alt.get_values_for_type(x509.RFC822Name) or None
        addresses = alt.get_values_for_type(x509.IPAddress)
        view["IPAddresses"] = [str(a) for a in addresses] or None
        view["URIs"] = alt.get_values_for_type(x509.UniformResourceIdentifier) or None
    except x509.ExtensionNotFound:
        pass
    return view


FUNCTIONS: FunctionTable = {"x509_decode": (1, _fn_x509_decode)}
