"""The one settings loader: a TOML table → a typed, frozen section, every bad key named.

Each config section is a frozen dataclass declared next to the subsystem that owns it, deriving
from :class:`Section`. Its field annotations *are* the schema: this module converts a table's
values against them with one rule per type, and then asks the section's :meth:`Section.validate`
for cross-field and range problems. :func:`server.config.load_settings` layers the files and the
environment and calls it once per section; tests and tools call ``XSettings.from_mapping(table)``.

One rule per type, strict everywhere (a typo must not silently weaken a setting)::

    bool            true / false only ("yes", 1 are errors)
    int             an integer (not a bool, not a float, not "5")
    float           an integer or a float (not a bool, not "5")
    str, Path       a string
    Enum            a string naming the member's value or its name, any case
    Literal[...]    one of the listed values
    tuple[T, ...]   a list of T
    T | None        T, or an empty string for "unset"

Environment variables (``SEGMENT_SERVER_<SECTION>__<KEY>``) are strings: they are read as a TOML
value (``true``, ``9``, ``[1, 3]``, ``"text"``); for a string setting, a value that is not a TOML
string is taken as written (``12345`` is the user name ``"12345"``). Hand-written rather than
msgspec/pydantic: the whole job is these eight rules and the ``section.key: problem`` report,
which a library would have to be wrapped to produce anyway.
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Final, Self, TypeVar

from server.errors import SettingsError

__all__ = ["ENV_PREFIX", "Section", "SettingsError", "env_value", "hint"]

ENV_PREFIX: Final = "SEGMENT_SERVER_"

#: Conventional variables the UID2 SDKs and operators already use; they win over the file and
#: over ``SEGMENT_SERVER_*`` for these keys, so a secret never has to be written into a config file.
ALIAS_PREFIXES: Final = {"uid2": "UID2_", "euid": "EUID_", "identity": "UID2_IDENTITY_"}
ALIASED_KEYS: Final = ("api_key", "secret", "secret_file", "base_url")

Table = Mapping[str, object]
S = TypeVar("S", bound="Section")


def hint(section: str, key: str, value: str = "") -> str:
    """How to set ``section.key``, for messages that ask the operator to configure something.

    >>> hint("uid2", "api_key")
    'set [uid2] api_key or SEGMENT_SERVER_UID2__API_KEY / UID2_API_KEY'
    >>> hint("identity", "enabled", "true")
    'set [identity] enabled = true or SEGMENT_SERVER_IDENTITY__ENABLED=true'
    """
    env = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
    alias = ALIAS_PREFIXES.get(section) if key in ALIASED_KEYS else None
    if value:
        return f"set [{section}] {key} = {value} or {env}={value}"
    return f"set [{section}] {key} or {env}" + (f" / {alias}{key.upper()}" if alias else "")


class Section:
    """Base of every config section: the shared loader entry point, nothing else.

    Subclasses are ``@dataclass(frozen=True)`` value classes; ``section`` names their TOML
    table, and :meth:`validate` returns problems as ``"key: why"`` (the loader adds the section).
    """

    __slots__ = ()
    section: ClassVar[str] = ""

    def validate(self, section: str) -> list[str]:
        """Range and cross-field problems, as ``"key: why"``; none by default.

        ``section`` is the table this value was read from (one class can serve two, as
        ``[uid2]`` and ``[euid]`` do), for messages that say how to set something (:func:`hint`).
        """
        return []

    @classmethod
    def from_mapping(cls, raw: Table, *, section: str = "", env: Mapping[str, str] | None = None) -> Self:
        """Build from one TOML table; raise :class:`SettingsError` naming every bad key.

        ``env``, when given, supplies the conventional variables of :data:`ALIAS_PREFIXES`.
        """
        errors: list[str] = []
        built = build(cls, section or cls.section, raw, env or {}, errors)
        if built is None or errors:
            raise SettingsError(errors)
        return built


def build(cls: type[S], section: str, raw: Table, env: Mapping[str, str], errors: list[str]) -> S | None:
    """The section from ``raw`` (plus alias variables), or ``None`` with ``errors`` appended."""
    values = dict(raw)
    prefix = ALIAS_PREFIXES.get(section)
    if prefix:
        values.update({k: env[prefix + k.upper()] for k in ALIASED_KEYS if env.get(prefix + k.upper())})
    hints = field_types(cls)
    kwargs: dict[str, object] = {}
    before = len(errors)
    for key, value in values.items():
        if key not in hints:
            errors.append(f"{section}.{key}: unknown setting (known: {', '.join(sorted(hints))})")
            continue
        try:
            kwargs[key] = _coerce(value, hints[key])
        except (TypeError, ValueError) as exc:
            errors.append(f"{section}.{key}: {exc}")
    obj = cls(**kwargs)  # the good values, so range problems are reported beside type errors
    errors.extend(f"{section}.{problem}" for problem in obj.validate(section))
    return obj if len(errors) == before else None


def field_types(cls: type) -> dict[str, object]:
    """A dataclass's init fields and their resolved annotations."""
    resolved = typing.get_type_hints(cls)
    return {f.name: resolved[f.name] for f in dataclasses.fields(cls) if f.init}


def env_value(raw: str, annotation: object) -> object:
    """An environment variable's value, read as TOML; a string setting takes any other text as written."""
    try:
        value: object = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
    return raw if _takes_text(annotation) and not isinstance(value, str) else value


def _takes_text(annotation: object) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_takes_text(a) for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is typing.Literal:
        return all(isinstance(a, str) for a in typing.get_args(annotation))
    return annotation in (str, Path) or (isinstance(annotation, type) and issubclass(annotation, enum.Enum))


def _coerce(value: object, annotation: object) -> object:
    """One TOML value checked/converted against one field annotation (the rules above)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value == "" and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        problem: Exception = TypeError(f"expected {annotation}")
        for option in options:
            try:
                return _coerce(value, option)
            except (TypeError, ValueError) as exc:
                problem = exc
        raise problem
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"expected one of {', '.join(repr(a) for a in args)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {value!r}")
        return tuple(_coerce(item, args[0]) for item in value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {value!r}")
        return float(value)
    if annotation in (str, Path):
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return value if annotation is str else Path(value)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _member(value, annotation)
    raise TypeError(f"no rule for {annotation}")  # a section declared a type this loader lacks


def _member(value: object, kind: type[enum.Enum]) -> enum.Enum:
    if isinstance(value, str):
        for member in kind:
            if value.lower() in (str(member.value).lower(), member.name.lower()):
                return member
    raise ValueError(f"{value!r} is not a valid {kind.__name__}")
