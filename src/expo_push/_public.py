"""Public classes shown under the names users import them by: ``expo_push.ValidationError``, not ``._errors``."""

from __future__ import annotations

import builtins
import re

__all__ = ["show_as"]

_NAME = re.compile(r"[A-Za-z_]\w*")


def show_as(package: str, namespace: dict[str, object], names: list[str]) -> None:
    """Give the classes among ``names`` in ``namespace`` the module ``package``, where they are exported.

    Tracebacks and reprs then name them as users import them. A class keeps
    its own module when its annotations (or its bases') name anything the
    package does not export, since tools read annotations in the class's
    module (msgspec structs always keep theirs: msgspec reads them there).
    Checked by name, without evaluating anything: importing stays cheap.
    """
    known = set(namespace) | set(vars(builtins)) | {"None"}
    for name in names:
        cls = namespace.get(name)
        if not isinstance(cls, type) or not cls.__module__.startswith(package + "._"):
            continue
        if any(base.__module__ == "msgspec" for base in cls.__mro__[1:]):
            continue
        if all(_resolvable(base, known) for base in cls.__mro__ if base.__module__.startswith("expo_push")):
            cls.__module__ = package


def _resolvable(cls: type, known: set[str]) -> bool:
    annotations = vars(cls).get("__annotations__", {})
    for value in annotations.values():
        text = value if isinstance(value, str) else getattr(value, "__name__", "")
        if any(word not in known for word in _NAME.findall(text)):
            return False
    return True
