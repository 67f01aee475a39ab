"""Themes: YAML files validated into Textual `Theme` objects, shipped ones first, then the user's.

A theme file holds one theme: `name`, the colours Textual's `Theme` takes, `dark`, `ansi`, and
`variables`. Every mistake becomes one sentence naming the file, the line and the field; a broken
user theme never stops the app, and all of them are reported together.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

import themes as shipped_package
from core.config_yaml import YamlField, describe_value, display_path, load_yaml_file
from core.errors import ConfigError, KubedriftError

THEMES_DIR = Path(shipped_package.__file__).parent
STYLESHEET = THEMES_DIR / "kubedrift.tcss"
DEFAULT_THEME = "kubedrift-dark"
SHIPPED_ORDER = ("kubedrift-dark", "kubedrift-light", "high-contrast", "ansi")

COLOR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "success",
    "warning",
    "error",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_ALL_FIELDS = ("name", "dark", "ansi", "luminosity_spread", "text_alpha", "variables", *COLOR_FIELDS)
_ANSI_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
ANSI_COLORS = frozenset(
    ["ansi_default"] + [f"ansi_{name}" for name in _ANSI_NAMES] + [f"ansi_bright_{n}" for n in _ANSI_NAMES]
)
"""The 16 terminal colours (and the terminal's default), the only colours an `ansi: true` theme may use."""
_ANSI_DEFAULT_VARIABLES = {"ansi-background": "ansi_default", "ansi-foreground": "ansi_default"}


@dataclass(frozen=True, slots=True)
class ThemeCatalog:
    """The themes that loaded, in cycling order, and one sentence per file that did not."""

    themes: tuple[Theme, ...]
    problems: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(theme.name for theme in self.themes)

    def after(self, name: str) -> str:
        """The theme that follows `name` when cycling (the first one after an unknown name)."""
        names = self.names
        if name not in names:
            return names[0]
        return names[(names.index(name) + 1) % len(names)]

    def choose(self, wanted: str | None, origin: str) -> str:
        """`wanted` if it loaded, the default when None; else a one-sentence error naming `origin`."""
        if wanted is None:
            return DEFAULT_THEME
        if wanted not in self.names:
            raise ConfigError(
                f"there is no theme named {wanted!r} (themes: {', '.join(self.names)}): {origin}"
            )
        return wanted


def user_theme_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/kubedrift/themes`, or `~/.config/kubedrift/themes`."""
    env = os.environ if environ is None else environ
    config_home = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(config_home).expanduser() / "kubedrift" / "themes"


def load_theme(path: Path) -> Theme:
    """One theme file as a Theme; a mistake is a ConfigError naming the file, line and field."""
    display = display_path(path)
    document = load_yaml_file(path, display, multi_document=False)[0]
    root = YamlField(document, display, getattr(document, "line", 1), "").mapping(_ALL_FIELDS)
    ansi = root.optional_boolean("ansi", default=False)
    colors = {name: _color(root, name, ansi=ansi) for name in COLOR_FIELDS}
    primary = colors.pop("primary")
    if primary is None:
        raise root.fail("missing required key 'primary' (the main colour of the theme)")
    variables = {name: field.string() for name, field in _entries(root.optional("variables"))}
    if ansi:
        # Textual's stylesheets refer to these only when a theme is ansi; without them it cannot apply.
        variables = {**_ANSI_DEFAULT_VARIABLES, **variables}
    return Theme(
        name=root.required("name").string(),
        dark=root.optional_boolean("dark", default=True),
        ansi=ansi,
        luminosity_spread=_fraction(root, "luminosity_spread", 0.15),
        text_alpha=_fraction(root, "text_alpha", 0.95),
        variables=variables,
        primary=primary,
        **colors,
    )


def load_themes(user_dir: Path | None = None) -> ThemeCatalog:
    """The shipped themes, then every `*.yaml` in `user_dir` (a same-named user theme wins)."""
    by_name: dict[str, Theme] = {}
    problems: list[str] = []
    shipped = [THEMES_DIR / f"{name}.yaml" for name in SHIPPED_ORDER]
    for path in [*shipped, *_theme_files(user_dir)]:
        try:
            theme = load_theme(path)
        except KubedriftError as error:
            problems.append(str(error))
            continue
        by_name[theme.name] = theme
    return ThemeCatalog(tuple(by_name.values()), tuple(problems))


def problems_message(problems: Iterable[str]) -> str:
    """All theme failures as one notification: a count, then one line per file."""
    listed = list(problems)
    noun = "theme file" if len(listed) == 1 else "theme files"
    return (
        f"{len(listed)} {noun} could not be loaded and {'was' if len(listed) == 1 else 'were'} skipped:\n"
        + ("\n".join(listed))
    )


def _theme_files(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix in (".yaml", ".yml") and path.is_file())


def _entries(field: YamlField | None) -> list[tuple[str, YamlField]]:
    return list(field.entries()) if field is not None else []


def _color(root: YamlField, name: str, *, ansi: bool) -> str | None:
    field = root.optional(name)
    if field is None:
        return None
    value = field.string()
    if ansi and value not in ANSI_COLORS:
        raise field.fail(
            f"an ansi theme may use only the 16 terminal colours, got {value!r}; "
            "use a name such as ansi_blue or ansi_bright_red, or set ansi: false"
        )
    try:
        Color.parse(value)
    except ColorParseError:
        raise field.fail(f"{value!r} is not a colour; use #RRGGBB, a colour name, or ansi_<name>") from None
    return value


def _fraction(root: YamlField, name: str, default: float) -> float:
    field = root.optional(name)
    if field is None:
        return default
    value = field.value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise field.fail(f"expected a number from 0 to 1, got {describe_value(value)}")
    return float(value)
