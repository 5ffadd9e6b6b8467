"""Pure validators shared by the constructs: each raises :class:`PropError` with one message shape.

Patterns are applied with ``fullmatch``: ``re.match`` with ``$`` accepts a trailing newline (``"redis\\n"``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import TypeVar

from .errors import PropError

T = TypeVar("T")

_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROMETHEUS_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# At most 15 digits: a 5,000-digit quantity is refused by the rule, not by int() (Python caps str→int at 4,300).
_MEMORY = re.compile(r"^([1-9][0-9]{0,14})(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_CPU = re.compile(r"^(?:([1-9][0-9]{0,8})m|([0-9]{1,6})(?:\.([0-9]{1,3}))?)$")
_STORAGE = re.compile(r"^([1-9][0-9]{0,14})(Mi|Gi|Ti|M|G|T)$")
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[0-9]+/[a-z0-9]+(?:[._/-][a-z0-9]+)*)?)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
#: Kubernetes quantity suffixes (resource.Quantity) and their factors: binary (Ki = 1024) and decimal (k = 1000,
#: lowercase; ``8G`` is 8·10⁹ bytes, not 8Gi; ``m`` is a thousandth). The one table every quantity rule reads.
QUANTITY_SUFFIXES: dict[str, Decimal] = {
    "Ki": Decimal(1024),
    "Mi": Decimal(1024**2),
    "Gi": Decimal(1024**3),
    "Ti": Decimal(1024**4),
    "Pi": Decimal(1024**5),
    "Ei": Decimal(1024**6),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(1000),
    "M": Decimal(1000**2),
    "G": Decimal(1000**3),
    "T": Decimal(1000**4),
    "P": Decimal(1000**5),
    "E": Decimal(1000**6),
}
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:[eE]([+-]?[0-9]+)|("
    + "|".join(s for s in QUANTITY_SUFFIXES if s)
    + r"))?$"
)


def quantity_value(value: object) -> Decimal | None:
    """A Kubernetes quantity as rendered in a manifest (``500m``, ``1.5Gi``, ``1e3``, ``8G``, a plain number) as an
    exact Decimal; None when ``value`` is not one. Input rules (:func:`memory_bytes`, :func:`storage_size`) are
    stricter: they accept the whole numbers and suffixes a user should write."""
    match = _QUANTITY.fullmatch(str(value).strip()) if isinstance(value, (str, int, float)) else None
    if match is None:
        return None
    number = Decimal(match.group(1))
    if match.group(2):
        return number.scaleb(int(match.group(2)))
    return number * QUANTITY_SUFFIXES[match.group(3) or ""]


#: Spellings Kubernetes refuses, and the quantity of the same size it accepts.
_DECIMAL_HINTS = {"K": "k", "KB": "k", "kB": "k", "MB": "M", "GB": "G", "TB": "T", "mi": "Mi", "gi": "Gi", "ti": "Ti"}


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
    """Parse a memory quantity (``512Mi``, ``1Gi``, ``1G`` = 10⁹, plain bytes) into bytes."""
    match = _MEMORY.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise PropError(
            prop,
            value,
            "a Kubernetes memory quantity in bytes, binary (Ki, Mi, Gi, Ti) or decimal (k, M, G, T) units, e.g. '1Gi'",
            fix=_suffix_hint(value, _DECIMAL_HINTS) if isinstance(value, str) else None,
        )
    return int(match.group(1)) * int(QUANTITY_SUFFIXES[match.group(2) or ""])


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
    """Check a PVC size in Mi, Gi, Ti or decimal M, G, T (``8G`` is 8·10⁹ bytes) and return its bytes."""
    match = _STORAGE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise PropError(
            prop,
            value,
            "a storage size in Mi, Gi, Ti or decimal M, G, T (at most 15 digits), e.g. '8Gi'",
            fix=_suffix_hint(value, _DECIMAL_HINTS) if isinstance(value, str) else None,
        )
    size = int(match.group(1)) * int(QUANTITY_SUFFIXES[match.group(2) or ""])
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


def items(prop: str, values: object, expected: str) -> tuple[object, ...]:
    """``values`` as a tuple when it is a tuple or list (never one string, a mapping or a scalar), else a PropError."""
    if isinstance(values, str):
        # A bare string would be split into characters: ('b', 'e', 'e', ...).
        raise PropError(prop, values, expected + ", not one string", fix=f"({values!r},)")
    if not isinstance(values, (tuple, list)):
        raise PropError(
            prop, values if isinstance(values, (int, float, type(None))) else type(values).__name__, expected
        )
    return tuple(values)


def string_pair(prop: str, value: object, expected: str) -> tuple[str, str]:
    """A ``(first, second)`` pair of strings (a tuple or list of two), else a PropError."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(x, str) for x in value)):
        raise PropError(
            prop, value if isinstance(value, (str, int, float, tuple, type(None))) else type(value).__name__, expected
        )
    return (value[0], value[1])


def unique(prop: str, values: Iterable[str]) -> tuple[str, ...]:
    """Reject duplicates in a collection prop; return it as a tuple."""
    if isinstance(values, str):
        # A bare string would be split into characters: ('b', 'e', 'e', ...).
        raise PropError(prop, values, "a tuple of strings, not one string", fix=f"({values!r},)")
    if not isinstance(values, (tuple, list, frozenset, set)):
        raise PropError(prop, values, "a tuple of strings")
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


# -- durations: one grammar family -------------------------------------------------------------------------
#: Seconds per unit, the units Go's time.ParseDuration, Prometheus and Grafana share (plus d, w, y of the latter).
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION_PART = re.compile(r"([0-9]{1,9})(ms|s|m|h|d|w|y)")


def duration_seconds(
    prop: str,
    value: str,
    *,
    units: Iterable[str],
    expected: str,
    compound: bool = False,
    allow_zero: bool = False,
) -> float:
    """Parse a duration of whole numbers with ``units`` (``"15s"``; ``"1h30m"`` when ``compound``) into seconds.

    The one duration grammar: each caller chooses the units its consumer accepts (a ServiceMonitor interval,
    Grafana's refresh, a Prometheus ``for``, an ExternalSecret ``refreshInterval``) and whether zero may be
    given; ``expected`` is the rule shown in the error.
    """
    allowed = set(units)
    total = 0.0
    pos = 0
    parts = 0
    if isinstance(value, str):
        while pos < len(value):
            match = _DURATION_PART.match(value, pos)
            if match is None or match.group(2) not in allowed:
                break
            total += int(match.group(1)) * _DURATION_UNITS[match.group(2)]
            pos = match.end()
            parts += 1
    if (
        not isinstance(value, str)
        or parts == 0
        or pos != len(value)
        or (parts > 1 and not compound)
        or (total == 0 and not allow_zero)
    ):
        raise PropError(prop, value, expected)
    return total


# -- names: one DNS label/subdomain pair, one Secret-name rule ---------------------------------------------
def dns_subdomain(prop: str, value: str, *, max_length: int = 253) -> str:
    """Check an RFC 1123 subdomain (dot-separated labels; e.g. a Secret or ConfigMap name) and return it."""
    if not isinstance(value, str) or len(value) > max_length or not _DNS_SUBDOMAIN.fullmatch(value):
        raise PropError(
            prop,
            value,
            f"an RFC 1123 subdomain: lowercase a-z, 0-9, '-' and '.', starting and ending alphanumeric, "
            f"at most {max_length} characters",
        )
    return value


def secret_name(prop: str, value: str) -> str:
    """The name of a Secret, as the API server checks it: an RFC 1123 subdomain. ``seal`` and the constructs
    both use this rule, so a name ``seal`` accepts also synthesizes."""
    try:
        return dns_subdomain(prop, value)
    except PropError as e:
        raise PropError(prop, value, "a Secret name: " + e.expected) from None


def version(prop: str, value: str) -> str:
    """A version string put on pod annotations to roll them: non-empty, at most 63 characters."""
    return text(prop, value, max_length=63)


def prometheus_label_name(prop: str, value: str, *, fix: str | None = None) -> str:
    """A Prometheus label name (``[a-zA-Z_][a-zA-Z0-9_]*``)."""
    if not isinstance(value, str) or not _PROMETHEUS_LABEL.fullmatch(value):
        raise PropError(prop, value, "a Prometheus label name", fix=fix)
    return value


def instance(prop: str, value: object, cls: type[T], expected: str) -> T:
    """``value`` if it is a ``cls`` (a typed prop: a LoadBalancer, Resources, a props record), else a PropError."""
    if not isinstance(value, cls):
        raise PropError(
            prop, value if isinstance(value, (str, int, float, type(None))) else type(value).__name__, expected
        )
    return value


def boolean(prop: str, value: bool) -> bool:
    """A real ``bool``: ``'false'`` or ``0`` are refused, never read as truthy or falsy."""
    if not isinstance(value, bool):
        raise PropError(prop, value, "True or False (a bool, not a string or number)")
    return value


def fraction(prop: str, value: float, *, expected: str) -> float:
    """A number in (0, 1] (not a bool, a string or NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise PropError(prop, value, expected)
    return float(value)


_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def dns_1035_label(prop: str, value: str, *, max_length: int = 63) -> str:
    """An RFC 1035 label (starts with a letter): what a Service name must be, so names Services derive from."""
    dns_label(prop, value, max_length=max_length)
    if not _DNS_1035_LABEL.fullmatch(value):
        raise PropError(prop, value, "an RFC 1035 label starting with a letter (Service names are derived from it)")
    return value


# -- schedules: a CronJob's cron expression and time zone --------------------------------------------------
#: An IANA zone name as Kubernetes' ``spec.timeZone`` takes it (``Etc/UTC``, ``Europe/Oslo``, ``UTC``).
_TIME_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}")


def time_zone(prop: str, value: str) -> str:
    """An IANA time zone name (``Etc/UTC``, ``Europe/Oslo``), as a CronJob's ``spec.timeZone`` takes it."""
    if not isinstance(value, str) or len(value) > 64 or not _TIME_ZONE.fullmatch(value):
        raise PropError(prop, value, "an IANA time zone name such as 'Etc/UTC' or 'Europe/Oslo'")
    return value


def number_in_range(prop: str, value: float, low: float, high: float) -> float:
    """A number (int or float, not a bool or NaN) in ``low..high`` inclusive."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise PropError(prop, value, f"a number from {low:g} to {high:g}")
    return float(value)


#: The five fields of a Kubernetes CronJob schedule (robfig/cron's standard parser), their ranges and the names
#: the month and day-of-week fields also take (case-insensitive).
_MONTHS = {
    m: i
    for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)
}
_WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)
_CRON_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_CRON_ITEM = re.compile(r"(?:\*|([0-9]{1,2}|[A-Za-z]{3})(?:-([0-9]{1,2}|[A-Za-z]{3}))?)(?:/([0-9]{1,2}))?")
_CRON_EXPECTED = (
    "a cron schedule of five fields (minute hour day-of-month month day-of-week; *, a, a-b, lists and /step; "
    "names such as JAN or MON in the last two), e.g. '17 3 * * *', or one of " + ", ".join(sorted(_CRON_MACROS))
)


def cron_schedule(prop: str, value: str) -> str:
    """A CronJob ``schedule``: five fields or a macro (``@hourly``), each value in its field's range; no ``TZ=``
    prefix (the time zone is a prop of its own)."""
    if not isinstance(value, str):
        raise PropError(prop, value, _CRON_EXPECTED)
    if value.startswith(("TZ=", "CRON_TZ=")):
        raise PropError(prop, value, _CRON_EXPECTED + " (without TZ=: set the time zone prop)")
    if value in _CRON_MACROS:
        return value
    fields = value.split(" ")
    if len(fields) != len(_CRON_FIELDS):
        raise PropError(prop, value, _CRON_EXPECTED)
    for field_text, (field_name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for item in field_text.split(","):
            m = _CRON_ITEM.fullmatch(item)
            if m is None:
                raise PropError(prop, value, _CRON_EXPECTED)
            bounds = []
            for g in m.groups()[:2]:
                if g is None:
                    continue
                if g.isdigit():
                    bounds.append(int(g))
                elif g.upper() in names:
                    bounds.append(names[g.upper()])
                else:
                    raise PropError(prop, value, _CRON_EXPECTED + f" (the {field_name} field takes no name {g!r})")
            if any(not low <= n <= high for n in bounds) or (len(bounds) == 2 and bounds[1] < bounds[0]):
                raise PropError(prop, value, _CRON_EXPECTED + f" (the {field_name} field from {low} to {high})")
            if m.group(3) is not None and int(m.group(3)) == 0:
                raise PropError(prop, value, _CRON_EXPECTED + " (a step of at least 1)")
    return value
    fields = value.split(" ")
    if len(fields) != len(_CRON_FIELDS):
        raise PropError(prop, value, _CRON_EXPECTED)
    for field_text, (field_name, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        for item in field_text.split(","):
            m = _CRON_ITEM.fullmatch(item)
            if m is None:
                raise PropError(prop, value, _CRON_EXPECTED)
            start, end, step = (int(g) if g is not None else None for g in m.groups())
            numbers = [n for n in (start, end) if n is not None]
            if any(not low <= n <= high for n in numbers) or (end is not None and start is not None and end < start):
                raise PropError(prop, value, _CRON_EXPECTED + f" (the {field_name} field from {low} to {high})")
            if step is not None and step == 0:
                raise PropError(prop, value, _CRON_EXPECTED + " (a step of at least 1)")
    return value
