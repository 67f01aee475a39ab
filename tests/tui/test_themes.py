"""Themes: the shipped four, user themes from the XDG folder, failures reported together, t and --theme."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import ConfigError
from tests.tui.conftest import wait_until
from tui.app import KubedriftApp
from tui.screens.dashboard import DashboardScreen
from tui.settings import TuiSettings
from tui.themes import ANSI_COLORS, COLOR_FIELDS, DEFAULT_THEME, load_theme, load_themes, user_theme_dir

SHIPPED = ["kubedrift-dark", "kubedrift-light", "high-contrast", "ansi"]
GOOD_USER_THEME = 'name: midnight\nprimary: "#3366FF"\nbackground: "#000010"\n'


def user_themes(tmp_path: Path) -> Path:
    folder = user_theme_dir({"XDG_CONFIG_HOME": str(tmp_path / "xdg_config_home")})
    folder.mkdir(parents=True)
    return folder


def test_the_shipped_themes_load_in_order() -> None:
    catalog = load_themes(None)
    assert list(catalog.names) == SHIPPED
    assert catalog.problems == ()
    assert DEFAULT_THEME == "kubedrift-dark"


def test_the_ansi_theme_uses_only_the_16_terminal_colours() -> None:
    ansi = next(theme for theme in load_themes(None).themes if theme.name == "ansi")
    assert ansi.ansi
    colours = [getattr(ansi, field) for field in COLOR_FIELDS if getattr(ansi, field) is not None]
    colours += [value for name, value in ansi.variables.items() if not name.endswith("text-style")]
    assert colours and set(colours) <= ANSI_COLORS


def test_user_theme_folder_follows_xdg() -> None:
    assert user_theme_dir({"XDG_CONFIG_HOME": "/x"}) == Path("/x/kubedrift/themes")
    assert user_theme_dir({"HOME": "/home/me"}) == Path("/home/me/.config/kubedrift/themes")


def test_user_themes_load_after_the_shipped_ones(tmp_path: Path) -> None:
    folder = user_themes(tmp_path)
    (folder / "midnight.yaml").write_text(GOOD_USER_THEME)
    catalog = load_themes(folder)
    assert list(catalog.names) == [*SHIPPED, "midnight"]
    assert catalog.after("ansi") == "midnight"
    assert catalog.after("midnight") == "kubedrift-dark"


def test_every_broken_user_theme_is_reported(tmp_path: Path) -> None:
    folder = user_themes(tmp_path)
    (folder / "a-bad-colour.yaml").write_text('name: bad\nprimary: "#12345G"\n')
    (folder / "b-unknown-key.yaml").write_text('name: typo\nprimray: "#123456"\n')
    (folder / "c-ansi.yaml").write_text('name: fake-ansi\nansi: true\nprimary: "#123456"\n')
    (folder / "d-not-yaml.yaml").write_text("name: [unclosed\n")
    (folder / "notes.txt").write_text("not a theme")
    catalog = load_themes(folder)
    assert list(catalog.names) == SHIPPED
    assert len(catalog.problems) == 4
    bad, typo, ansi, broken = catalog.problems
    assert "a-bad-colour.yaml:2" in bad and "primary" in bad and "is not a colour" in bad
    assert "b-unknown-key.yaml" in typo and "did you mean 'primary'" in typo
    assert "c-ansi.yaml:3" in ansi and "16 terminal colours" in ansi
    assert "d-not-yaml.yaml" in broken


def test_a_theme_needs_a_primary_colour(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("name: plain\n")
    with pytest.raises(ConfigError, match="missing required key 'primary'"):
        load_theme(path)


async def test_broken_user_themes_make_one_notification(
    offline_settings: Callable[..., TuiSettings], tmp_path: Path
) -> None:
    folder = user_themes(tmp_path)
    (folder / "one.yaml").write_text("name: one\nprimary: nope\n")
    (folder / "two.yaml").write_text("name: two\n")
    (folder / "midnight.yaml").write_text(GOOD_USER_THEME)
    app = KubedriftApp(offline_settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        about_themes = [n for n in app._notifications if n.title == "themes"]
        assert len(about_themes) == 1
        assert "one.yaml" in about_themes[0].message and "two.yaml" in about_themes[0].message
        assert "midnight" in app.themes.names


async def test_t_cycles_through_the_themes(offline_settings: Callable[..., TuiSettings]) -> None:
    app = KubedriftApp(offline_settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        seen = [app.theme]
        for _ in SHIPPED:
            await pilot.press("t")
            seen.append(app.theme)
        assert seen == [*SHIPPED, "kubedrift-dark"]


async def test_theme_setting_selects_the_theme(offline_settings: Callable[..., TuiSettings]) -> None:
    app = KubedriftApp(offline_settings(theme="high-contrast"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        assert app.theme == "high-contrast"
        assert app.current_theme.name == "high-contrast"


def test_an_unknown_theme_is_one_sentence(offline_settings: Callable[..., TuiSettings]) -> None:
    with pytest.raises(
        ConfigError, match=r"there is no theme named 'neon' \(themes: kubedrift-dark, .*--theme"
    ):
        KubedriftApp(offline_settings(theme="neon"))
