"""The credentials' command line: ``python -m redis_constructs <command>`` (``redis_constructs/__main__.py``).

``seal`` encrypts a password for the sealed-secrets controller into the committed sealed-values file;
``gen-password`` prints a password that passes the library's rules. The password is never a command-line
argument (it would land in shell history and ``ps``): it comes from ``--password-file``, a pipe on stdin, or a
no-echo prompt when stdin is a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

from ..core.errors import PropError
from .sealing import (
    SealingScope,
    generate_password,
    load_certificate,
    reuse_sealed_value,
    seal_into_file,
    validate_password,
)

_DESCRIPTION = "Command line for redis_constructs."

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
        raise PropError(
            "cert", None, "the controller's PEM certificate (--cert)", fix="kubeseal --fetch-cert > pub.pem"
        )
    cert_path = Path(arguments.cert)
    try:
        cert_pem = cert_path.read_bytes()
    except OSError as error:
        raise PropError(
            "cert",
            str(cert_path),
            f"a readable PEM file ({error.strerror})",
            fix="kubeseal --fetch-cert > pub.pem",
        ) from None
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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser; one subparser per command so more commands can be added."""
    # allow_abbrev=False everywhere: otherwise `--password SECRET` would be taken as `--password-file SECRET`
    # and the password would be echoed back in the "cannot read file" error.
    parser = argparse.ArgumentParser(prog="python -m redis_constructs", description=_DESCRIPTION, allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    seal = commands.add_parser(
        "seal",
        allow_abbrev=False,
        help="seal a password for the sealed-secrets controller into the sealed-values file",
        description=(
            "Encrypt a password read from --password-file or stdin for each --namespace and merge it into "
            "--out; other entries of the file are kept. Get the cert with `kubeseal --fetch-cert > pub.pem`."
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
        "--out", default="sealed-secrets.yaml", help="sealed-values file to update (default: %(default)s)"
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
        "--length", type=int, default=40, help="number of characters, 32 to 4096 (default: %(default)s)"
    )
    generate.set_defaults(handler=_gen_password)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (2 with the error on stderr for bad input)."""
    parser = build_parser()
    tokens = list(sys.argv[1:] if argv is None else argv)
    if any(t == "--password" or t.startswith("--password=") for t in tokens):
        # Before argparse, which would echo the next token (the password) as an invalid command or value.
        print(
            "error: --password: got an option; expected the password from --password-file or stdin, never an "
            "argument (it would stay in shell history and ps)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    arguments, unknown = parser.parse_known_args(tokens)
    if unknown:
        # argparse would echo every unknown token; a mistyped `--password SECRET` must not print the secret.
        options = [token.split("=", 1)[0] for token in unknown if token.startswith("-")]
        values = len(unknown) - len(options)
        parser.error(f"unrecognized arguments: {' '.join(options) or '-'} (+{values} values, not shown)")
    try:
        code: int = arguments.handler(arguments)
    except PropError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return code
