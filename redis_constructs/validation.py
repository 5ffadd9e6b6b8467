"""Pure validators shared by the constructs: each raises :class:`PropError` with one message shape.

Patterns are applied with ``fullmatch``: ``re.match`` with ``$`` accepts a trailing newline (``"redis\\n"``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable

from .errors import PropError

_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MEMORY = re.compile(r"^([1-9][0-9]*)(Ki|Mi|Gi|Ti)?$")
_CPU = re.compile(r"^(?:([1-9][0-9]*)m|([0-9]+)(?:\.([0-9]{1,3}))?)$")
_STORAGE = re.compile(r"^([1-9][0-9]*)(Mi|Gi|Ti)$")
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[0-9]+/[a-z0-9]+(?:[._/-][a-z0-9]+)*)?)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_BINARY_UNITS = {None: 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
_DECIMAL_HINTS = {"K": "Ki", "k": "Ki", "KB": "Ki", "M": "Mi", "MB": "Mi", "G": "Gi", "GB": "Gi", "T": "Ti", "TB": "Ti"}


def dns_label(prop: str, value: str, *, max_length: int = 63) -> str:
    """Check an RFC 1123 label (namespace, object name part) and return it."""
    if not isinstance(value, str) or not _DNS_LABEL.fullmatch(value) or len(value) > max_length:
        fix = value.lower().replace("_", "-") if isinstance(value, str) else None
        raise PropError(
            prop,
            value,
            f"an RFC 1123 label: lowercase a-z, 0-9 and '-', starting and ending alphanumeric, "
            f"at most {max_length} characters",
            fix=fix if fix and fix != value and _DNS_LABEL.fullmatch(fix) and len(fix) <= max_length else None,
        )
    return value


def int_in_range(prop: str, value: int, low: int, high: int) -> int:
    """Check an integer (not a bool) in ``low..high`` inclusive and return it."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PropError(prop, value, f"an integer from {low} to {high}")
    return value


def _suffix_hint(value: str, table: dict[str, str]) -> str | None:
    match = re.match(r"^([0-9]+)\s*([A-Za-z]+)$", value.strip())
    if match and match.group(2) in table:
        return f"{match.group(1)}{table[match.group(2)]}"
    return None


def memory_bytes(prop: str, value: str) -> int:
    """Parse a memory quantity in binary units (``512Mi``, ``1Gi``, plain bytes) into bytes."""
    match = _MEMORY.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise PropError(
            prop,
            value,
            "a Kubernetes memory quantity in bytes or binary units (Ki, Mi, Gi, Ti), e.g. '1Gi'",
            fix=_suffix_hint(value, _DECIMAL_HINTS) if isinstance(value, str) else None,
        )
    return int(match.group(1)) * _BINARY_UNITS[match.group(2)]


def cpu_millis(prop: str, value: str) -> int:
    """Parse a CPU quantity (``250m``, ``1``, ``1.5``) into millicores; at least 1m."""
    match = _CPU.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise PropError(prop, value, "a Kubernetes CPU quantity such as '250m', '1' or '1.5'")
    if match.group(1) is not None:
        millis = int(match.group(1))
    else:
        millis = int(match.group(2)) * 1000 + int((match.group(3) or "0").ljust(3, "0"))
    if millis < 1:
        raise PropError(prop, value, "a CPU quantity of at least 1m")
    return millis


def storage_size(prop: str, value: str, *, minimum_bytes: int) -> int:
    """Check a PVC size written in Mi, Gi or Ti (what local-path and most provisioners accept)."""
    match = _STORAGE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise PropError(
            prop,
            value,
            "a storage size in Mi, Gi or Ti, e.g. '8Gi'",
            fix=_suffix_hint(value, _DECIMAL_HINTS) if isinstance(value, str) else None,
        )
    size = int(match.group(1)) * _BINARY_UNITS[match.group(2)]
    if size < minimum_bytes:
        raise PropError(prop, value, f"at least {minimum_bytes // 1024**2}Mi")
    return size


def pinned_image(prop: str, value: str) -> str:
    """Check an image reference with an explicit tag that is not ``latest``."""
    match = _IMAGE.fullmatch(value) if isinstance(value, str) else None
    if match is None or match.group("tag") == "latest":
        raise PropError(
            prop,
            value,
            "an image reference with an explicit version tag (repository:tag, tag not 'latest'), "
            "e.g. 'redis:7.4.2-bookworm'",
        )
    return value


def image_digest(prop: str, value: str | None) -> str | None:
    """Check an optional ``sha256:<64 hex>`` digest."""
    if value is not None and (not isinstance(value, str) or not _DIGEST.fullmatch(value)):
        raise PropError(prop, value, "None or a digest 'sha256:' followed by 64 lowercase hex digits")
    return value


def cidr(prop: str, value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse a network in CIDR notation with no host bits set."""
    try:
        network = ipaddress.ip_network(value, strict=True)
    except (TypeError, ValueError):
        fix = None
        with contextlib.suppress(TypeError, ValueError):
            fix = str(ipaddress.ip_network(value, strict=False))
        raise PropError(prop, value, "a network in CIDR notation, e.g. '192.168.4.0/24'", fix=fix) from None
    if "/" not in str(value):
        raise PropError(prop, value, "a network in CIDR notation with a prefix length, e.g. '192.168.4.0/24'")
    return network


def ip_address(prop: str, value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse a single IP address written as a string (an int would parse, then fail in the manifest)."""
    try:
        if not isinstance(value, str):
            raise TypeError(value)
        return ipaddress.ip_address(value)
    except (TypeError, ValueError):
        raise PropError(prop, value, "a single IPv4 or IPv6 address, e.g. '192.168.4.203'") from None


def text(prop: str, value: str, *, max_length: int) -> str:
    """Check a non-empty string of at most ``max_length`` characters."""
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        raise PropError(prop, value, f"a non-empty string of at most {max_length} characters")
    return value


_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def secret_key(prop: str, value: str) -> str:
    """Check a Secret/ConfigMap data key as the API server does (``IsConfigMapKey``)."""
    if (
        not isinstance(value, str)
        or not _SECRET_KEY.fullmatch(value)
        or len(value) > 253
        or value in (".", "..")
        or value.startswith("..")
    ):
        raise PropError(
            prop, value, "a Secret key of ASCII letters, digits, '-', '_' or '.', not '.', '..' or starting with '..'"
        )
    return value


_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def label_pairs(prop: str, pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Check label ``(key, value)`` pairs for a selector: at least one, valid Kubernetes syntax, unique keys."""
    if isinstance(pairs, str) or not isinstance(pairs, tuple | list) or not pairs:
        raise PropError(prop, pairs, "a non-empty tuple of (key, value) label pairs, e.g. (('k8s-app', 'kube-dns'),)")
    labels: dict[str, str] = {}
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise PropError(prop, pair, "a (key, value) pair of strings")
        key, value = pair
        prefix, _, name = key.rpartition("/")
        if (
            not _LABEL_NAME.fullmatch(name)
            or len(name) > 63
            or ("/" in key and (not _DNS_SUBDOMAIN.fullmatch(prefix) or len(prefix) > 253))
        ):
            raise PropError(prop, key, "a label key: [prefix/]name, name of at most 63 of A-Z a-z 0-9 - _ .")
        if value and (not _LABEL_NAME.fullmatch(value) or len(value) > 63):
            raise PropError(prop, value, "a label value: at most 63 of A-Z a-z 0-9 - _ ., alphanumeric at both ends")
        if key in labels:
            raise PropError(prop, key, "each label key once")
        labels[key] = value
    return labels


def unique(prop: str, values: Iterable[str]) -> tuple[str, ...]:
    """Reject duplicates in a collection prop; return it as a tuple."""
    if isinstance(values, str):
        # A bare string would be split into characters: ('b', 'e', 'e', ...).
        raise PropError(prop, values, "a tuple of strings, not one string", fix=f"({values!r},)")
    seen: list[str] = []
    for value in values:
        if value in seen:
            raise PropError(prop, tuple(values), f"no duplicates ({value!r} appears twice)")
        seen.append(value)
    return tuple(seen)


def is_env_var_name(value: object) -> bool:
    """Whether ``value`` is an environment variable name a shell and the kubelet's ``$(VAR)`` both accept."""
    return isinstance(value, str) and _ENV_VAR.fullmatch(value) is not None


def env_var_name(prop: str, value: str) -> str:
    """``value`` if it is an environment variable name (:func:`is_env_var_name`), else a PropError."""
    if not is_env_var_name(value):
        raise PropError(prop, value, "environment variable names of letters, digits and '_'")
    return value
