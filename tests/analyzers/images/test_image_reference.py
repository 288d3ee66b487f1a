"""The image reference grammar and Docker normalisation, against distribution/reference's own
test tables (reference_test.go, normalize_test.go), read through ``ParseNormalizedNamed`` as
the kubelet does: names without a registry get ``docker.io`` (and ``library/``)."""

from __future__ import annotations

import time

import pytest

from bot.analyzers.images.reference import ImageReference, parse_reference
from bot.analyzers.images.reference import ReferenceError as ImageReferenceError

F64 = "f" * 64
F128 = "f" * 128
SHA = f"sha256:{F64}"

# input -> (registry, repository, tag, digest), from TestReferenceParse, normalised.
VALID = {
    "test_com": ("docker.io", "library/test_com", None, None),
    "test.com:tag": ("docker.io", "library/test.com", "tag", None),
    "test.com:5000": ("docker.io", "library/test.com", "5000", None),
    "test.com/repo:tag": ("test.com", "repo", "tag", None),
    "test:5000/repo": ("test:5000", "repo", None, None),
    "test:5000/repo:tag": ("test:5000", "repo", "tag", None),
    f"test:5000/repo@{SHA}": ("test:5000", "repo", None, SHA),
    f"test:5000/repo:tag@{SHA}": ("test:5000", "repo", "tag", SHA),
    "lowercase:Uppercase": ("docker.io", "library/lowercase", "Uppercase", None),
    "sub-dom1.foo.com/bar/baz/quux": ("sub-dom1.foo.com", "bar/baz/quux", None, None),
    "sub-dom1.foo.com/bar/baz/quux:some-long-tag": (
        "sub-dom1.foo.com",
        "bar/baz/quux",
        "some-long-tag",
        None,
    ),
    "b.gcr.io/test.example.com/my-app:test.example.com": (
        "b.gcr.io",
        "test.example.com/my-app",
        "test.example.com",
        None,
    ),
    "xn--n3h.com/myimage:xn--n3h.com": ("xn--n3h.com", "myimage", "xn--n3h.com", None),
    f"xn--7o8h.com/myimage:xn--7o8h.com@sha512:{F128}": (
        "xn--7o8h.com",
        "myimage",
        "xn--7o8h.com",
        f"sha512:{F128}",
    ),
    "foo_bar.com:8080": ("docker.io", "library/foo_bar.com", "8080", None),
    "foo/foo_bar.com:8080": ("docker.io", "foo/foo_bar.com", "8080", None),
    "192.168.1.1": ("docker.io", "library/192.168.1.1", None, None),
    "192.168.1.1:tag": ("docker.io", "library/192.168.1.1", "tag", None),
    "192.168.1.1:5000": ("docker.io", "library/192.168.1.1", "5000", None),
    "192.168.1.1/repo": ("192.168.1.1", "repo", None, None),
    "192.168.1.1:5000/repo": ("192.168.1.1:5000", "repo", None, None),
    "192.168.1.1:5000/repo:5050": ("192.168.1.1:5000", "repo", "5050", None),
    "[2001:db8::1]/repo": ("[2001:db8::1]", "repo", None, None),
    "[2001:db8:1:2:3:4:5:6]/repo:tag": ("[2001:db8:1:2:3:4:5:6]", "repo", "tag", None),
    "[2001:db8::1]:5000/repo": ("[2001:db8::1]:5000", "repo", None, None),
    "[2001:db8::1]:5000/repo:tag": ("[2001:db8::1]:5000", "repo", "tag", None),
    f"[2001:db8::1]:5000/repo@{SHA}": ("[2001:db8::1]:5000", "repo", None, SHA),
    f"[2001:db8::1]:5000/repo:tag@{SHA}": ("[2001:db8::1]:5000", "repo", "tag", SHA),
    "[2001:db8::]:5000/repo": ("[2001:db8::]:5000", "repo", None, None),
    "[::1]:5000/repo": ("[::1]:5000", "repo", None, None),
    # normalize_test.go
    "localhost/repo": ("localhost", "repo", None, None),
    "localhost:5000/repo:1": ("localhost:5000", "repo", "1", None),
    "index.docker.io/debian": ("docker.io", "library/debian", None, None),
    "docker.io/library/foo/bar": ("docker.io", "library/foo/bar", None, None),
    "Docker/docker": ("Docker", "docker", None, None),  # an uppercase first element is a host
    f"busybox:latest@sha256:{F64}": ("docker.io", "library/busybox", "latest", SHA),
    f"x:{'t' * 128}": ("docker.io", "library/x", "t" * 128, None),
    f"x@sha384:{'a' * 96}": ("docker.io", "library/x", None, f"sha384:{'a' * 96}"),
}

# input -> the reason, word for word.
INVALID = {
    "": "it is empty",
    ":justtag": "the repository name is missing",
    f"@{SHA}": "the repository name is missing",
    "repo@sha256:" + "f" * 34: "a sha256 digest has 64 hexadecimal digits, this one has 34",
    f"validname@invaliddigest:{F64}": (
        'digest algorithm "invaliddigest" is not supported (sha256, sha384 or sha512)'
    ),
    "Uppercase:tag": 'repository name must be lowercase ("library/Uppercase")',
    "test:5000/Uppercase/lowercase:tag": (
        'repository name must be lowercase ("Uppercase/lowercase")'
    ),
    "docker.io/docker/Docker": 'repository name must be lowercase ("docker/Docker")',
    "aa/asdf$$^/aa": (
        'path component "asdf$$^" is not valid: it must be lowercase letters and digits, '
        'separated by ".", "_", "__" or "-" (not at either end)'
    ),
    "[2001:db8::1]": "a registry address needs a repository path after it",
    "[2001:db8::1]:5000": "a registry address needs a repository path after it",
    "[2001:db8::1]:tag": "a registry address needs a repository path after it",
    "[fe80::1%eth0]:5000/repo": (
        'registry "[fe80::1%eth0]:5000": IPv6 zone identifiers are not allowed'
    ),
    "fc00::1:5000/debian": (
        'registry "fc00::1:5000": an IPv6 address must be in brackets, such as "[fc00::1]:5000"'
    ),
    "https://github.com/docker/docker": ('an image reference has no URL scheme; remove "https://"'),
    F64: (
        "a 64-character hexadecimal string is an image ID, not a repository name; "
        "write the repository and its digest (name@sha256:<hex>)"
    ),
    "docker///docker": 'repository path "docker///docker" has an empty component',
    "docker/": 'repository path "docker/" has an empty component',
    "nginx:": 'the tag after ":" is empty',
    "nginx@": 'the digest after "@" is empty',
    f"nginx:{'t' * 129}": "the tag is 129 characters long; the limit is 128",
    "nginx:-1": (
        'tag "-1" is not valid: a tag is letters, digits, "_", "." and "-", and cannot start '
        'with "." or "-"'
    ),
    "nginx:1.0:2.0": 'path component "nginx:1.0" is not valid: it must be lowercase letters '
    'and digits, separated by ".", "_", "__" or "-" (not at either end)',
    "nginx@sha256:" + "F" * 64: "the digest's hexadecimal digits must be lowercase",
    "nginx@sha512:" + "f" * 64: "a sha512 digest has 128 hexadecimal digits, this one has 64",
    "nginx@sha256:abc": (
        'digest "sha256:abc" is not valid: expected <algorithm>:<hex>, such as "sha256:" and '
        "64 hexadecimal digits"
    ),
    "nginx 1.27": "it contains whitespace",
    "nginx:1.27\n": "it contains whitespace",
    "-docker.io/docker/docker": (
        'registry "-docker.io" is not a valid host name, IPv4 address or [IPv6] address with '
        "an optional :port"
    ),
}

# normalize_test.go TestValidateReferenceName / TestValidateRemoteName, verdict only.
VALID_NAMES = [
    "docker/docker",
    "library/debian",
    "debian",
    "docker.io/docker/docker",
    "docker.io/library/debian",
    "docker.io/debian",
    "index.docker.io/docker/docker",
    "index.docker.io/library/debian",
    "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian",
    "192.168.0.1",
    "192.168.0.1:80",
    "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "Docker/docker",
    "DOCKER/docker",
    "docker-rules/docker",
    "docker---rules/docker",
    "doc/docker",
    "d/docker",
    "jess/t",
    "dock__er/docker",
]
INVALID_NAMES = [
    "https://github.com/docker/docker",
    "docker/Docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker/Docker",
    "docker.io/docker///docker",
    "[fc00::1]",
    "[fc00::1]:5000",
    "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian",
    "[2001:db8:3:4::192.0.2.33]:5000/debian",
    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "docker-/docker",
    "-docker-/docker",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "/docker",
]


@pytest.mark.parametrize(("text", "expected"), VALID.items(), ids=lambda v: str(v)[:40])
def test_valid_references(text: str, expected: tuple[str, str, str | None, str | None]) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected
    assert ref.original == text


@pytest.mark.parametrize(("text", "reason"), INVALID.items(), ids=lambda v: str(v)[:40])
def test_invalid_references(text: str, reason: str) -> None:
    with pytest.raises(ImageReferenceError) as caught:
        parse_reference(text)
    assert caught.value.reason == reason
    assert str(caught.value).startswith("invalid image reference ")
    assert not isinstance(caught.value, ReferenceError)  # ours, not the weakref builtin


@pytest.mark.parametrize("name", VALID_NAMES)
def test_upstream_valid_names(name: str) -> None:
    parse_reference(name)


@pytest.mark.parametrize("name", INVALID_NAMES, ids=lambda v: v[:40])
def test_upstream_invalid_names(name: str) -> None:
    with pytest.raises(ImageReferenceError):
        parse_reference(name)


def test_name_length_counts_the_registry() -> None:
    # 255 characters with "docker.io/" is the limit (the OCI distribution spec's wording and
    # distribution/reference before v0.6, which the kubelet used for years).
    path = "a/" * 121 + "abc"  # 245 characters
    assert len(parse_reference(path + ":tag").name) == 255
    with pytest.raises(ImageReferenceError):
        parse_reference("a" + path + ":tag")
    # reference_test.go's "a/"*127+"a" has a 255-character path; normalised it is 265 long.
    with pytest.raises(ImageReferenceError) as caught:
        parse_reference("a/" * 127 + "a:tag-puts-this-over-max")
    assert caught.value.reason.endswith("is 265 characters long; the limit is 255")
    assert len(parse_reference("ghcr.io/" + "a" * 247).name) == 255
    with pytest.raises(ImageReferenceError):
        parse_reference("ghcr.io/" + "a" * 248)


# TestParseRepositoryInfo: every spelling gives the familiar and the full name.
REPOSITORY_INFO = [
    ("fooo/bar", "docker.io/fooo/bar", ["index.docker.io/fooo/bar"]),
    ("ubuntu", "docker.io/library/ubuntu", ["library/ubuntu"]),
    ("nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", []),
    ("other/library", "docker.io/other/library", []),
    ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase", []),
    ("127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", []),
    ("example.com/private/moonbase", "example.com/private/moonbase", []),
    ("example.com:8000/privatebasee", "example.com:8000/privatebasee", []),
    (
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        ["index.docker.io/library/ubuntu-12.04-base"],
    ),
    ("foo", "docker.io/library/foo", ["docker.io/foo"]),
    ("library/foo/bar", "docker.io/library/foo/bar", []),
    ("store/foo/bar", "docker.io/store/foo/bar", []),
    ("Foo/bar", "Foo/bar", []),
    ("FOO/bar", "FOO/bar", []),
]


@pytest.mark.parametrize(("familiar", "full", "others"), REPOSITORY_INFO)
def test_familiar_and_full_names(familiar: str, full: str, others: list[str]) -> None:
    for spelling in (familiar, full, *others):
        ref = parse_reference(spelling)
        assert ref.name == full, spelling
        assert ref.familiar_name == familiar, spelling


def test_forms_of_one_reference() -> None:
    ref = parse_reference(f"nginx:1.27@{SHA}")
    assert ref == ImageReference(f"nginx:1.27@{SHA}", "docker.io", "library/nginx", "1.27", SHA)
    assert ref.name == "docker.io/library/nginx"
    assert ref.canonical == f"docker.io/library/nginx:1.27@{SHA}"
    assert ref.familiar == f"nginx:1.27@{SHA}"
    assert ref.api_host == "registry-1.docker.io"
    assert ref.pinned
    ghcr = parse_reference("GHCR.IO/acme/api:v1")
    assert ghcr.registry == "GHCR.IO"
    assert ghcr.match_name == "ghcr.io/acme/api"
    assert ghcr.api_host == "GHCR.IO"
    assert not ghcr.pinned


def test_hostile_input_stays_fast() -> None:
    samples = [
        "a" * 1000 + "!",
        "a-" * 500 + "!",
        "a." * 500 + "/" + "b" * 200 + "!",
        "a/" * 500,
        "[" + ":" * 900 + "]/x",
        "a" * 5000,
        "x@" + "sha256:" + "f" * 5000,
    ]
    started = time.perf_counter()
    for text in samples:
        with pytest.raises(ImageReferenceError):
            parse_reference(text)
    assert time.perf_counter() - started < 0.5
