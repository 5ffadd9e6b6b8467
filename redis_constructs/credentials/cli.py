"""The credentials' commands of ``redis-shared`` (:mod:`redis_constructs.cli`): ``seal`` and ``gen-password``.

``seal`` encrypts a password for the sealed-secrets controller into the committed sealed-values file;
``gen-password`` prints a password that passes the library's rules. For tenants (docs/tenants.md):
``seal-tenant`` seals one tenant's password for its namespace and for Redis's; ``rotate-tenant --begin/--end``
are a rotation's two commits; ``migrate-client-secret`` moves the shared client password (sealed for Redis's
namespace under ``password``) to a tenant's key. The last two need no password and no certificate: a value sealed
strictly is bound to its Secret, not to its key. The password is never a command-line
argument (it would land in shell history and ``ps``): it comes from ``--password-file``, a pipe on stdin, or a
no-echo prompt when stdin is a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from ..core.errors import PropError
from .sealing import (
    _OFFLINE_DOCS,
    CERT_SOURCES,
    DEFAULT_SEALED_VALUES,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    SealedValue,
    SealedValues,
    SealingScope,
    SealRefusedError,
    certificate_fingerprint,
    generate_password,
    load_certificate,
    read_sealed_file,
    reuse_sealed_value,
    seal_into_file,
    seal_value,
    validate_password,
    write_sealed_file,
)
from .tenant_sealing import PASSWORD_KEY, PASSWORD_SUFFIX, PREVIOUS_PASSWORD_SUFFIX, drop_sealed_key, move_sealed_key

PROG = "redis-shared"
EXIT_USAGE = 2
"""Exit code for bad input, the same argparse uses for a bad command line."""


def _read_password(password_file: str | None) -> str:
    """Return the password from ``password_file``, a no-echo prompt (terminal) or stdin, then validate it.

    Exactly one trailing newline (``\\n`` or ``\\r\\n``) is stripped, the one ``echo`` or an editor adds; any
    other whitespace is kept so validation rejects it instead of silently sealing a different password.
    """
    if password_file is not None:
        try:
            raw = Path(password_file).read_bytes()
        except OSError as error:
            raise PropError("password-file", password_file, f"a readable file ({error.strerror})") from None
    elif sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("password (again): ") != first:
            raise PropError("password", "two different entries", "the same password twice")
        raw = first.encode("utf-8")
    else:
        raw = sys.stdin.buffer.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PropError("password", "bytes that are not UTF-8", "UTF-8 text") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return validate_password(text, prop="password")


def _seal(arguments: argparse.Namespace) -> int:
    try:
        return _seal_or_refuse(arguments)
    except SealRefusedError as refusal:
        raise PropError(refusal.prop, refusal.value, refusal.expected, fix=_commands(arguments, refusal)) from None


def _commands(arguments: argparse.Namespace, refusal: SealRefusedError) -> str:
    """The commands that do what was refused, runnable as printed (the password from the prompt or stdin)."""
    base = [PROG, "seal"]
    if arguments.cert is not None:
        base += ["--cert", arguments.cert]
    common = ["--secret-name", refusal.secret_name, "--key", refusal.key, "--scope", arguments.scope]
    every = [*base, *common, *(f"--namespace={ns}" for ns in refusal.namespaces), "--out", arguments.out]
    text = f"`{shlex.join(every)}` with the password of all copies"
    if refusal.reuse_namespaces:
        reuse = [
            PROG,
            "seal",
            *common[:4],
            *(f"--namespace={ns}" for ns in refusal.reuse_namespaces),
            "--reuse-existing",
            "--out",
            arguments.out,
        ]
        text = f"`{shlex.join(reuse)}` (copies the sealed value), or {text}"
    return text


def _seal_or_refuse(arguments: argparse.Namespace) -> int:
    if arguments.reuse_existing:
        result = reuse_sealed_value(
            arguments.out, secret_name=arguments.secret_name, key=arguments.key, namespaces=arguments.namespace
        )
        namespaces = ", ".join(result.namespaces(arguments.secret_name))
        print(
            f"reused the sealed key {arguments.key!r} of secret {arguments.secret_name!r} for "
            f"{', '.join(dict.fromkeys(arguments.namespace))} in {arguments.out} (secret now sealed for {namespaces})"
        )
        return 0
    cert_pem = _read_cert(arguments.cert)  # fail on a bad cert before prompting for the password twice
    password = _read_password(arguments.password_file)
    scope = SealingScope(arguments.scope)
    result = seal_into_file(
        arguments.out,
        cert_pem=cert_pem,
        secret_name=arguments.secret_name,
        namespaces=arguments.namespace,
        key=arguments.key,
        value=password.encode("utf-8"),
        scope=scope,
    )
    namespaces = ", ".join(result.namespaces(arguments.secret_name))
    print(
        f"sealed key {arguments.key!r} of secret {arguments.secret_name!r} ({scope.value}) for "
        f"{', '.join(dict.fromkeys(arguments.namespace))} into {arguments.out} "
        f"(cert sha256 {result.certificate_sha256[:16]}...; secret now sealed for {namespaces})"
    )
    return 0


def _read_cert(cert: str | None) -> bytes:
    """The controller's certificate from ``--cert``; the error names every way to get one (online, Helm, offline)."""
    if cert is None:
        raise PropError("cert", None, CERT_SOURCES)
    try:
        pem = Path(cert).read_bytes()
    except OSError as error:
        raise PropError("cert", cert, f"a readable PEM file ({error.strerror}): {CERT_SOURCES}") from None
    load_certificate(pem)
    return pem


def _read_values(out: str) -> SealedValues:
    if not Path(out).exists():
        raise PropError("out", out, "an existing sealed-values file")
    return read_sealed_file(out)


def seal_tenant_into(
    values: SealedValues, *, cert_pem: bytes, tenant: str, password: str, secret_name: str, server_namespace: str
) -> SealedValues:
    """``values`` with ``password`` sealed as ``<secret>/<tenant>: password`` and
    ``<secret>/<server namespace>: <tenant>.password`` (strict scope: each bound to its own Secret)."""
    if values.scope is not SealingScope.STRICT:
        raise PropError("scope", values.scope.value, "a strict-scope sealed-values file (one Secret per namespace)")
    if certificate_fingerprint(cert_pem) != values.certificate_sha256:
        raise PropError(
            "cert",
            f"sha256 {certificate_fingerprint(cert_pem)[:16]}...",
            f"the cert that sealed the file (sha256 {values.certificate_sha256[:16]}...)",
        )
    key = load_certificate(cert_pem)
    value = password.encode("utf-8")
    return values.merged(
        SealedValue(
            secret_name=secret_name,
            namespace=namespace,
            key=data_key,
            ciphertext=seal_value(key, value, namespace=namespace, name=secret_name),
        )
        for namespace, data_key in ((tenant, PASSWORD_KEY), (server_namespace, tenant + PASSWORD_SUFFIX))
    )


def _seal_tenant(arguments: argparse.Namespace) -> int:
    cert_pem = _read_cert(arguments.cert)
    values = _read_values(arguments.out)
    password = _read_password(arguments.password_file)
    updated = seal_tenant_into(
        values,
        cert_pem=cert_pem,
        tenant=arguments.tenant,
        password=password,
        secret_name=arguments.secret_name,
        server_namespace=arguments.server_namespace,
    )
    write_sealed_file(arguments.out, updated)
    print(
        f"sealed tenant {arguments.tenant!r}'s password as {arguments.secret_name}/{arguments.tenant}: {PASSWORD_KEY} "
        f"and {arguments.secret_name}/{arguments.server_namespace}: {arguments.tenant}{PASSWORD_SUFFIX} "
        f"into {arguments.out}"
    )
    return 0


def _rotate_tenant(arguments: argparse.Namespace) -> int:
    values = _read_values(arguments.out)
    name, server, tenant = arguments.secret_name, arguments.server_namespace, arguments.tenant
    previous = tenant + PREVIOUS_PASSWORD_SUFFIX
    if arguments.end:
        write_sealed_file(arguments.out, drop_sealed_key(values, secret_name=name, namespace=server, key=previous))
        print(f"rotation of {tenant!r} ended: dropped {name}/{server}: {previous} from {arguments.out}")
        return 0
    cert_pem = _read_cert(arguments.cert)
    password = _read_password(arguments.password_file)
    moved = move_sealed_key(
        values, secret_name=name, namespace=server, from_key=tenant + PASSWORD_SUFFIX, to_key=previous
    )
    updated = seal_tenant_into(
        moved, cert_pem=cert_pem, tenant=tenant, password=password, secret_name=name, server_namespace=server
    )
    write_sealed_file(arguments.out, updated)
    print(
        f"rotation of {tenant!r} begun: the old password is {name}/{server}: {previous} (still accepted), the new one "
        f"sealed for {tenant} and {server} in {arguments.out}; commit, wait for the app to roll, then "
        f"`rotate-tenant --end --tenant {tenant}`"
    )
    return 0


def _migrate_client_secret(arguments: argparse.Namespace) -> int:
    values = _read_values(arguments.out)
    name, server, tenant = arguments.secret_name, arguments.server_namespace, arguments.tenant
    moved = move_sealed_key(
        values, secret_name=name, namespace=server, from_key=arguments.from_key, to_key=tenant + PASSWORD_SUFFIX
    )
    if (name, tenant) not in {(v.secret_name, v.namespace) for v in moved.values}:
        raise PropError("tenant", tenant, f"a namespace the file seals {name} for (its own copy)")
    write_sealed_file(arguments.out, moved)
    print(
        f"moved {name}/{server}: {arguments.from_key} to {tenant}{PASSWORD_SUFFIX} in {arguments.out} "
        f"({tenant}'s own copy unchanged; no password read)"
    )
    return 0


def _tenant_arguments(parser: argparse.ArgumentParser, *, password: bool) -> None:
    parser.add_argument("--tenant", required=True, help="the tenant's namespace, e.g. shop")
    if password:
        parser.add_argument("--cert", help="the controller's PEM certificate (kubeseal --fetch-cert)")
        parser.add_argument(
            "--password-file", help="file holding the password (one trailing newline is stripped); default: stdin"
        )
    parser.add_argument("--secret-name", default="redis-shared-client", help="the tenants' Secret (%(default)s)")
    parser.add_argument("--server-namespace", default="redis", help="Redis's namespace (%(default)s)")
    parser.add_argument("--out", default="sealed/values.yaml", help="sealed-values file to update (%(default)s)")


def _gen_password(arguments: argparse.Namespace) -> int:
    print(generate_password(arguments.length))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``seal`` and ``gen-password`` to the ``redis-shared`` command line (:mod:`redis_constructs.cli`)."""
    # allow_abbrev=False everywhere: otherwise `--password SECRET` would be taken as `--password-file SECRET`
    # and the password would be echoed back in the "cannot read file" error.
    commands = subparsers
    seal = commands.add_parser(
        "seal",
        allow_abbrev=False,
        help=f"seal a password for the sealed-secrets controller into {DEFAULT_SEALED_VALUES}",
        description=(
            "Encrypt a password read from --password-file, stdin or a prompt for each --namespace and merge it "
            "into --out; other entries of the file are kept. The cert: `kubeseal --fetch-cert > pub.pem` online "
            "(a Helm install: add --controller-name <release> --controller-namespace <ns>), or your own key "
            f"offline ({_OFFLINE_DOCS})."
        ),
    )
    seal.add_argument("--cert", help="the controller's PEM certificate (kubeseal --fetch-cert); required to seal")
    seal.add_argument("--secret-name", required=True, help="name of the Secret the controller creates")
    seal.add_argument(
        "--namespace",
        required=True,
        action="append",
        help="namespace to seal for; repeat for every namespace that needs the Secret",
    )
    seal.add_argument("--key", required=True, help="data key of the value in the Secret, e.g. password")
    seal.add_argument(
        "--password-file",
        help="file holding the password (one trailing newline is stripped); default: read stdin",
    )
    seal.add_argument(
        "--out", default=str(DEFAULT_SEALED_VALUES), help="sealed-values file to update (default: %(default)s)"
    )
    seal.add_argument(
        "--scope",
        default=SealingScope.STRICT.value,
        choices=[s.value for s in SealingScope],
        help="what the value is bound to: namespace and name (strict, default), namespace, or nothing",
    )
    seal.add_argument(
        "--reuse-existing",
        action="store_true",
        help="give the new --namespace(s) the value already sealed for this secret and key (cluster-wide files "
        "only: a strict or namespace-wide value cannot be unsealed elsewhere); reads no password",
    )
    seal.set_defaults(handler=_seal)

    generate = commands.add_parser(
        "gen-password",
        allow_abbrev=False,
        help="print a random password that passes the library's password rules",
    )
    generate.add_argument(
        "--length",
        type=int,
        default=40,
        help=f"number of characters, {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} (default: %(default)s)",
    )
    generate.set_defaults(handler=_gen_password)

    seal_tenant = commands.add_parser(
        "seal-tenant",
        allow_abbrev=False,
        help="seal one tenant's password for its namespace and for Redis's (docs/tenants.md)",
        description=(
            "Seal a password (from --password-file or stdin) as <secret>/<tenant>: password and "
            "<secret>/<server namespace>: <tenant>.password into --out (strict scope)."
        ),
    )
    _tenant_arguments(seal_tenant, password=True)
    seal_tenant.set_defaults(handler=_seal_tenant)

    rotate = commands.add_parser(
        "rotate-tenant",
        allow_abbrev=False,
        help="a tenant password rotation's two commits: --begin (new password, old still accepted) and --end",
        description=(
            "--begin: move <tenant>.password to <tenant>.previous-password (no plaintext) and seal the new password "
            "for both copies; commit, wait for the app to roll. --end: drop <tenant>.previous-password; commit."
        ),
    )
    phase = rotate.add_mutually_exclusive_group(required=True)
    phase.add_argument("--begin", action="store_true", help="first commit: Redis accepts the old and the new")
    phase.add_argument("--end", action="store_true", help="second commit: only the new password")
    _tenant_arguments(rotate, password=True)
    rotate.set_defaults(handler=_rotate_tenant)

    migrate = commands.add_parser(
        "migrate-client-secret",
        allow_abbrev=False,
        help="once: move the shared client password (Redis's copy) to a tenant's key; no password handled",
        description=(
            "Move <secret>/<server namespace>: --from-key (default password) to <tenant>.password. The tenant's "
            "own copy is untouched, so its app does not roll."
        ),
    )
    _tenant_arguments(migrate, password=False)
    migrate.add_argument("--from-key", default="password", help="the key to move (%(default)s)")
    migrate.set_defaults(handler=_migrate_client_secret)


def main(argv: Sequence[str] | None = None) -> int:
    """``seal`` and ``gen-password`` alone, as ``redis-shared`` runs them (the same exit codes)."""
    from ..cli import main as cli_main

    return cli_main(argv, modules=(__name__,))
