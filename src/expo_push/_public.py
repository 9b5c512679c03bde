"""Public classes shown under the names users import them by: ``expo_push.ValidationError``, not ``._errors``."""

from __future__ import annotations

import typing

__all__ = ["show_as"]


def show_as(package: str, namespace: dict[str, object], names: list[str]) -> None:
    """Give the classes among ``names`` in ``namespace`` the module ``package``, where they are exported.

    Tracebacks and reprs then name them as users import them. msgspec structs
    and classes whose annotations only resolve in their own module keep it
    (msgspec and ``typing.get_type_hints`` read annotations there).
    """
    for name in names:
        cls = namespace.get(name)
        if not isinstance(cls, type) or not cls.__module__.startswith(package + "._") or _is_struct(cls):
            continue
        own = cls.__module__
        cls.__module__ = package
        try:
            typing.get_type_hints(cls)
        except Exception:  # an annotation naming something private to its module
            cls.__module__ = own


def _is_struct(cls: type) -> bool:
    return any(base.__module__ == "msgspec" for base in cls.__mro__[1:])
