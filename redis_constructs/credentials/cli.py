"""The credentials' commands of ``redis-shared`` (:mod:`redis_constructs.cli`): ``seal`` and ``gen-password``.

``seal`` encrypts a password for the sealed-secrets controller into the committed sealed-values file;
``gen-password`` prints a password that passes the library's rules. The password is never a command-line
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
    SealingScope,
    SealRefusedError,
    generate_password,
    load_certificate,
    reuse_sealed_value,
    seal_into_file,
    validate_password,
)

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
    if arguments.cert is None:
        raise PropError("cert", None, CERT_SOURCES)
    cert_path = Path(arguments.cert)
    try:
        cert_pem = cert_path.read_bytes()
    except OSError as error:
        raise PropError("cert", str(cert_path), f"a readable PEM file ({error.strerror}): {CERT_SOURCES}") from None
    load_certificate(cert_pem)  # fail on a bad cert before prompting for the password twice
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


def main(argv: Sequence[str] | None = None) -> int:
    """``seal`` and ``gen-password`` alone, as ``redis-shared`` runs them (the same exit codes)."""
    from ..cli import main as cli_main

    return cli_main(argv, modules=(__name__,))
