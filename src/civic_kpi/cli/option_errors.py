"""Mistakes on the command line, said in the project's words instead of the option parser's.

Typer (through its copy of Click, validated by Pydantic) words a wrong option as "Invalid value for '--fail-on':
Value error, 'error' is not one of 'never', 'warn', 'fail'." under a usage line. A user reads the same shape as
every other civic-kpi error instead: `error: <what is wrong>` and a hint naming the next step.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from civic_kpi.errors import Problem, did_you_mean

try:  # Typer 0.29 carries its own copy of Click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - an older Typer on Click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]

_KINDS = {  # Pydantic's error type for a value of the wrong kind → what the option takes, in words
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "bool_parsing": "yes or no",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
}


class Commands(TyperGroup):
    """The `civic-kpi` group: shows a usage mistake as `error: …` with a hint, exit 2, like any other error."""

    command_path = "civic-kpi"  # the command being parsed: a missing option value comes without its context

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        self.command_path = f"{ctx.command_path} {name}"
        return name, command, rest

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:  # a caller that handles Click's exceptions itself
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click_errors.NoArgsIsHelpError as exc:  # `civic-kpi` alone prints the help and exits 2, as Click does
            exc.show()
            sys.exit(exc.exit_code)
        except click_errors.ClickException as exc:
            sys.stderr.write(f"error: {in_own_words(exc, self.command_path).render()}\n")
            sys.exit(exc.exit_code)
        except typer.Abort:  # end of input at a prompt
            sys.stderr.write("aborted\n")
            sys.exit(1)
        # Without standalone mode a command's typer.Exit comes back as its code, and a finished command as None.
        sys.exit(code if isinstance(code, int) else 0)


def in_own_words(exc: click_errors.ClickException, command_path: str = "civic-kpi") -> Problem:
    """One Problem for a usage mistake: what is wrong, by the option's name, and where to look next."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else command_path
    help_hint = f"'{path} -h' lists its options, with an example"
    if isinstance(exc, click_errors.NoSuchOption):
        parent = ctx.parent if ctx is not None else None
        if parent is not None and exc.option_name in _option_names(parent):  # civic-kpi compute --version
            hint = f"{exc.option_name} goes before the command: {parent.command_path} {exc.option_name}"
        else:
            hint = _closest_option(exc.option_name, _option_names(ctx)) or help_hint
        return Problem(f"{path} has no option {exc.option_name}", hint=hint)
    if isinstance(exc, click_errors.BadOptionUsage) and "requires an argument" in exc.message:
        return Problem(f"{exc.option_name} needs a value after it", hint=help_hint)
    if isinstance(exc, click_errors.MissingParameter):
        name = _param_name(exc.param)
        argument = getattr(exc.param, "param_type_name", "") == "argument"
        return Problem(f"{path} needs {'the argument ' if argument else ''}{name}", hint=help_hint)
    if isinstance(exc, click_errors.BadParameter):
        return _bad_value(exc, help_hint)
    if exc.message.startswith("No such command"):
        name = exc.message.split("'")[1] if "'" in exc.message else exc.message
        commands = list(getattr(ctx.command, "commands", {})) if ctx is not None else []
        return Problem(f"no command '{name}'", hint=did_you_mean(name, commands) or "'civic-kpi -h' lists the commands")
    extra = re.fullmatch(r"Got unexpected extra arguments? ?(?:\(s\))? \((.*)\)", exc.message, re.S)
    if extra:
        given = extra.group(1).split(" ")
        hint = f"options start with '-'; {help_hint}"
        takes = [opt for opt in ("--period", "--month", "--fiscal-year") if opt in _option_names(ctx)]
        has_arguments = ctx is not None and any(p.param_type_name == "argument" for p in ctx.command.params)
        if len(given) == 1 and re.fullmatch(r"(FY)?\d{4}\S*", given[0]) and takes and not has_arguments:
            hint = f"a period goes after {takes[0]}: {path} {takes[0]} {given[0]}"
        said = ", ".join(f"'{word}'" for word in given)
        return Problem(f"{path} takes no argument{'s' if len(given) > 1 else ''} {said}", hint=hint)
    return Problem(exc.format_message(), hint=help_hint)


def _bad_value(exc: click_errors.BadParameter, help_hint: str) -> Problem:
    name = _param_name(exc.param)
    errors = exc.__cause__.errors() if hasattr(exc.__cause__, "errors") else []
    if not errors:  # a check of our own (a callback) already words its message
        return Problem(f"{name}: {exc.message}", hint=help_hint)
    error = errors[0]
    given = error.get("input")
    choices = _choices(exc.param)
    if choices:
        listed = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
        hint = did_you_mean(str(given), choices)
        return Problem(f"{name} takes {listed}, not '{given}'", hint=hint or help_hint)
    bounds = error.get("ctx") or {}
    for key, words in (("ge", "at least"), ("gt", "more than"), ("le", "at most"), ("lt", "under")):
        if key in bounds:  # a range: --max-groups 0
            return Problem(f"{name} takes a number of {words} {bounds[key]}, not '{given}'", hint=help_hint)
    kind = _KINDS.get(error.get("type", ""))
    if kind is None:  # a kind not worded here yet: the validator's own words, which name what is wrong
        return Problem(f"{name}: {str(error.get('msg', exc.message)).removeprefix('Value error, ')}", hint=help_hint)
    return Problem(f"{name} takes {kind}, not '{given}'", hint=help_hint)


def _choices(param: Any) -> list[str]:
    """The values an option takes, when it takes one of a list (an Enum of strings in the signature)."""
    kind = getattr(param, "type_descriptor", None)
    if kind is None or not kind.is_choice:
        return []
    return [str(getattr(choice, "value", choice)) for choice in kind.choices]


def _param_name(param: Any) -> str:
    if param is None:
        return "an argument"
    if param.param_type_name == "argument":
        return str(param.name).upper()
    long = [opt for opt in param.opts if opt.startswith("--")]
    return (long or param.opts)[0]


def _option_names(ctx: Any) -> list[str]:
    if ctx is None:
        return []
    return [opt for param in ctx.command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--")]


def _closest_option(given: str, known: list[str]) -> str | None:
    """'--perod' → '--period', matched without the dashes that every option shares (they made '--format' look
    like '--domain')."""
    bare = {name.lstrip("-"): name for name in known}
    if given.lstrip("-") in bare:  # ---period
        return f"did you mean '{bare[given.lstrip('-')]}'?"
    hint = did_you_mean(given.lstrip("-"), list(bare))
    if hint is None:
        return None
    close = hint.split("'")[1]
    return hint.replace(f"'{close}'", f"'{bare[close]}'")
