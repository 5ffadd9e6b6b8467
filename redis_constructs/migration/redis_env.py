"""How an app reads its Redis settings: one frozen class per variant, each validating itself.

Built with the factories ``RedisEnv.host_port_password()``, ``RedisEnv.url()`` and ``RedisEnv.password_file()``;
:class:`~redis_constructs.migration.binding.RedisClientBinding` renders by the variant's type.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from ..core import validation as v
from ..core.errors import PropError


class RedisEnvKind(enum.Enum):
    """How an app reads its Redis settings."""

    HOST_PORT_PASSWORD = "host-port-password"
    URL = "url"
    PASSWORD_FILE = "password-file"


class RedisEnv:
    """Which environment variables (and files) an app reads its Redis settings from; build it with a factory."""

    __slots__ = ()
    #: Which variant this is (rendering dispatches on the class).
    kind: ClassVar[RedisEnvKind]

    def __init__(self, *args: object, **kwargs: object) -> None:
        if type(self) is RedisEnv:
            raise PropError(
                "env", "RedisEnv(...)", "one of RedisEnv.host_port_password(), RedisEnv.url(), RedisEnv.password_file()"
            )

    @staticmethod
    def host_port_password(
        *,
        host_var: str = "REDIS_HOST",
        port_var: str = "REDIS_PORT",
        password_var: str = "REDIS_PASSWORD",
        username_var: str | None = None,
    ) -> HostPortPasswordRedisEnv:
        """Host, port and password in three variables; the password from a ``secretKeyRef``.

        ``username_var``: Default: - no username variable; the password authenticates Redis user ``default``.
        """
        return HostPortPasswordRedisEnv(
            host_var=host_var, port_var=port_var, password_var=password_var, username_var=username_var
        )

    @staticmethod
    def url(*, var: str = "REDIS_URL", password_var: str = "REDIS_PASSWORD", database: int = 0) -> UrlRedisEnv:
        """One ``redis://default:<password>@host:port/<database>`` variable.

        The password is a ``secretKeyRef`` in ``password_var`` that the kubelet expands into the URL
        (``$(REDIS_PASSWORD)``), so it is never written into a manifest. It must be URL-safe (the sealed values
        are generated alphanumeric).
        """
        return UrlRedisEnv(url_var=var, password_var=password_var, database=database)

    @staticmethod
    def password_file(
        *,
        host_var: str = "REDIS_HOST",
        port_var: str = "REDIS_PORT",
        file_var: str = "REDIS_PASSWORD_FILE",
        mount_path: str = "/var/run/secrets/redis-shared",
    ) -> PasswordFileRedisEnv:
        """Host and port in variables; the password in a file (mounted from the Secret) whose path is in ``file_var``."""
        return PasswordFileRedisEnv(host_var=host_var, port_var=port_var, file_var=file_var, mount_path=mount_path)

    def variables(self) -> tuple[str, ...]:
        """Every variable this binding sets, in the order it renders them."""
        raise NotImplementedError

    def validate(self, prop: str) -> None:
        """Check the variable names (letters, digits, '_'; no two alike) for ``prop``."""
        for name in self.variables():
            v.env_var_name(prop, name)
        v.unique(prop, self.variables())


@dataclass(frozen=True, kw_only=True, slots=True)
class HostPortPasswordRedisEnv(RedisEnv):
    """``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_PASSWORD`` (names configurable), optionally a username variable."""

    kind: ClassVar[RedisEnvKind] = RedisEnvKind.HOST_PORT_PASSWORD
    #: Variable for ``redis.master_host``. Default: ``"REDIS_HOST"``.
    host_var: str = "REDIS_HOST"
    #: Variable for ``redis.port``. Default: ``"REDIS_PORT"``.
    port_var: str = "REDIS_PORT"
    #: Variable filled from the client Secret (``secretKeyRef``). Default: ``"REDIS_PASSWORD"``.
    password_var: str = "REDIS_PASSWORD"
    #: Variable for the Redis user (``default``). Default: - not set; the password alone selects ``default``.
    username_var: str | None = None

    def __post_init__(self) -> None:
        self.validate("env")

    def variables(self) -> tuple[str, ...]:
        username = (self.username_var,) if self.username_var is not None else ()
        return (*username, self.host_var, self.port_var, self.password_var)


@dataclass(frozen=True, kw_only=True, slots=True)
class UrlRedisEnv(RedisEnv):
    """One ``redis://`` URL variable; the password expanded into it from a ``secretKeyRef`` variable."""

    kind: ClassVar[RedisEnvKind] = RedisEnvKind.URL
    #: Variable for the ``redis://`` URL. Default: ``"REDIS_URL"``.
    url_var: str = "REDIS_URL"
    #: Variable filled from the client Secret, expanded into the URL. Default: ``"REDIS_PASSWORD"``.
    password_var: str = "REDIS_PASSWORD"
    #: Database number in the URL. Default: 0.
    database: int = 0

    def __post_init__(self) -> None:
        self.validate("env")
        v.int_in_range("env.database", self.database, 0, 15)

    def variables(self) -> tuple[str, ...]:
        return (self.password_var, self.url_var)


@dataclass(frozen=True, kw_only=True, slots=True)
class PasswordFileRedisEnv(RedisEnv):
    """Host and port variables; the password as a file mounted from the Secret, its path in ``file_var``."""

    kind: ClassVar[RedisEnvKind] = RedisEnvKind.PASSWORD_FILE
    #: Default: ``"REDIS_HOST"``.
    host_var: str = "REDIS_HOST"
    #: Default: ``"REDIS_PORT"``.
    port_var: str = "REDIS_PORT"
    #: Variable holding the password file's path. Default: ``"REDIS_PASSWORD_FILE"``.
    file_var: str = "REDIS_PASSWORD_FILE"
    #: Where the client Secret is mounted, read-only. Default: ``"/var/run/secrets/redis-shared"``.
    mount_path: str = "/var/run/secrets/redis-shared"

    def __post_init__(self) -> None:
        self.validate("env")
        if not isinstance(self.mount_path, str) or not self.mount_path.startswith("/"):
            raise PropError("env.mount_path", self.mount_path, "an absolute path")

    def variables(self) -> tuple[str, ...]:
        return (self.host_var, self.port_var, self.file_var)
