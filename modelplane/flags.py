"""Command-line flags from a pydantic-settings class: one flag per field, flag over env over default.

Every field becomes `--field-name` (or the names a `Flag` in its annotation gives), its help is
the field's description, its choices come from a `Literal`, a `bool` is a switch and a
`list[...]` a repeatable flag. Flags left out stay out of the parsed values, so the settings
class fills them from its environment variables (`<env_prefix><FIELD>`) or its defaults.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


@dataclass(frozen=True)
class Flag:
    """How a field appears on the command line: `Annotated[int, Flag(metavar="N")]`."""

    names: tuple[str, ...] = ()  # default: --field-name
    metavar: str | None = None
    hidden: bool = False  # settable through the environment only


def flag_parser(
    settings: type[BaseSettings],
    prog: str,
    description: str,
    parser: argparse.ArgumentParser | None = None,
    exclude: Collection[str] = (),
) -> argparse.ArgumentParser:
    """A parser (or `parser`, e.g. a subcommand's) with one flag per field of `settings`."""
    prefix = str(settings.model_config.get("env_prefix") or "")
    if parser is None:
        parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.epilog = (
        f"Every flag is also an environment variable {prefix}<FLAG> (upper case, dashes as "
        "underscores); a flag given here wins over the variable."
    )
    own = vars(settings).get("__annotations__", {})
    fields = settings.model_fields
    ordered = [n for n in fields if n in own] + [n for n in fields if n not in own]
    for name in ordered:  # the class's own fields first, mixed-in ones (logging) after
        field = fields[name]
        flag = _flag(field)
        if name in exclude or flag.hidden:
            continue
        names = flag.names or (f"--{name.replace('_', '-')}",)
        options = _options(field)
        if flag.metavar is not None and options.get("action") not in ("store_true",):
            options["metavar"] = flag.metavar
        parser.add_argument(
            *names, dest=name, default=argparse.SUPPRESS, help=_help(field), **options
        )
    return parser


def settings_from_args(
    settings: type[S], parser: argparse.ArgumentParser, argv: Sequence[str]
) -> S:
    """Flags given in `argv` over the environment over defaults; ValidationError when invalid."""
    return settings(**vars(parser.parse_args(list(argv))))


def parse_settings(settings: type[S], parser: argparse.ArgumentParser, argv: Sequence[str]) -> S:
    """`settings_from_args`, exiting with status 2 and one line per invalid field instead."""
    try:
        return settings_from_args(settings, parser, argv)
    except ValidationError as error:
        raise SystemExit(report(parser.prog, error)) from None


def report(prog: str, error: ValidationError) -> int:
    """Print each validation error as `prog: field: message` on stderr; the exit code (2)."""
    for err in error.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"])
        print(f"{prog}: {loc + ': ' if loc else ''}{err['msg']}", file=sys.stderr)
    return 2


def _flag(field: FieldInfo) -> Flag:
    return next((m for m in field.metadata if isinstance(m, Flag)), Flag())


def _help(field: FieldInfo) -> str:
    text = field.description or ""
    default = field.default
    if default is not PydanticUndefined and default not in (None, False, "", [], ()):
        text += f" (default {default})"
    return text


def _options(field: FieldInfo) -> dict[str, Any]:
    """argparse options for the field's type (Optional unwrapped)."""
    kind = _without_none(field.annotation)
    if kind is bool:
        return {"action": "store_true" if not field.default else argparse.BooleanOptionalAction}
    if get_origin(kind) is Literal:
        choices = list(get_args(kind))
        return {"choices": choices, "type": type(choices[0])}
    if get_origin(kind) is list:
        (item,) = get_args(kind)
        return {"action": "append", "type": item}
    if kind in (int, float, str, Path):
        return {"type": kind}
    raise TypeError(f"no command-line form for {kind!r}; mark the field Flag(hidden=True)")


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation
