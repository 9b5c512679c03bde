"""The exported names: every module's ``__all__`` is what it defines for others, and public classes show as exported."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import typing

import pytest

import expo_push

ALL_MODULES = sorted(
    info.name for info in pkgutil.walk_packages(expo_push.__path__, "expo_push.") if not info.name.endswith("__main__")
)
DJANGO_APP = "expo_push.django"
"""Its modules need Django's app registry: tests/django/test_layout.py checks them, with the app set up."""
MODULES = [name for name in ALL_MODULES if name != DJANGO_APP and not name.startswith(f"{DJANGO_APP}.")]
PACKAGES = ["expo_push", "expo_push.compat", "expo_push.emulator", "expo_push.ledger"]

KEPT_IN_THEIR_MODULE = {
    # msgspec structs: msgspec reads their annotations in the module that defines them
    "expo_push.PushMessage",
    "expo_push.PushReceipt",
    "expo_push.PushTicket",
    "expo_push.HttpResponse",
    # annotations (theirs or their bases') name things only their own module imports
    "expo_push.PushClient",
    "expo_push.AsyncPushClient",
    "expo_push.compat.PushMessage",
    "expo_push.emulator.Delivery",
    "expo_push.emulator.Fault",
    "expo_push.MessagePart",  # a msgspec struct: msgspec reads its annotations in its own module
}


@pytest.mark.parametrize("name", ["expo_push", *MODULES])
def test_all_lists_exactly_what_the_module_defines_for_others(name):
    check_all(name)


def check_all(name: str) -> None:
    """Assert that the module ``name`` has an ``__all__`` listing exactly what it defines for others."""
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    assert [n for n in exported if not hasattr(module, n)] == [], f"{name}.__all__ names what it lacks"
    defined = [
        n
        for n, value in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ in (name, name.rsplit(".", 1)[0])
        and name.rsplit(".", 1)[-1].startswith("_")  # private modules: public packages re-export by choice
        and inspect.getmodule(value) is module
    ]
    assert [n for n in defined if n not in exported] == [], f"{name} defines public names missing from __all__"


@pytest.mark.parametrize("package", PACKAGES)
def test_public_classes_repr_as_the_package_that_exports_them(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        if not inspect.isclass(value) or f"{package}.{name}" in KEPT_IN_THEIR_MODULE:
            continue
        assert repr(value) == f"<class '{package}.{name}'>"
        typing.get_type_hints(value)  # its annotations still resolve where it is now said to live


def test_an_exception_shows_and_pickles_under_its_public_name():
    error = expo_push.ValidationError("is required", field="to", index=3)
    assert type(error).__module__ == "expo_push"
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is expo_push.ValidationError
    assert str(again) == str(error)
