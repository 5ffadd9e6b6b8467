"""Core: what every concern uses — errors, the validation rules, rendering helpers, Pod Security, images,
Secret references, Job runs, restart annotations, and Node for jsii. Imports nothing else of the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .errors import PropError as PropError
    from .include import IncludeFile as IncludeFile
    from .include import IncludeFileProps as IncludeFileProps
    from .job_run import JobRun as JobRun
    from .refs import SecretKeyRef as SecretKeyRef

_WHERE = {
    "IncludeFile": ".include",
    "IncludeFileProps": ".include",
    "JobRun": ".job_run",
    "PropError": ".errors",
    "SecretKeyRef": ".refs",
}

__all__ = [
    "IncludeFile",
    "IncludeFileProps",
    "JobRun",
    "PropError",
    "SecretKeyRef",
]

__getattr__ = lazy_exports(__name__, _WHERE)
