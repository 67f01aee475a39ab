"""The TUI entry of the command line: no command opens the TUI, `kubedrift PATH` a folder, and
settings mistakes are one sentence with exit code 2 before any screen is drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.handle import write_kubeconfig
from tui.cli import build_parser, main, split_folder_argument

COMMANDS = ["check", "diff", "sync", "watch", "demo", "sandbox"]


def test_a_folder_is_taken_out_of_the_arguments(tmp_path: Path) -> None:
    folder = str(tmp_path)
    assert split_folder_argument([folder], COMMANDS) == ([], folder)
    assert split_folder_argument(["--context", "dev", folder, "--read-only"], COMMANDS) == (
        ["--context", "dev", "--read-only"],
        folder,
    )
    assert split_folder_argument(["--theme", folder], COMMANDS) == (["--theme", folder], None), "a value"
    assert split_folder_argument(["check", "--app", "x"], COMMANDS) == (["check", "--app", "x"], None)
    assert split_folder_argument(["chek"], COMMANDS) == (["chek"], None), "left for argparse to reject"


def test_no_command_means_the_tui() -> None:
    parser = build_parser()
    assert parser.parse_args([]).run.__name__ == "_run_tui"
    assert parser.parse_args(["--theme", "ansi", "--read-only"]).theme == "ansi"
    assert parser.parse_args(["check"]).run.__module__ == "tui.commands.check"


@pytest.fixture
def manifests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBEDRIFT_CONFIG", raising=False)
    return folder


def test_an_unknown_theme_is_one_line_and_exit_2(
    manifests: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = write_kubeconfig(manifests.parent / "kubeconfig", "http://127.0.0.1:9")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert main(["--theme", "neon", str(manifests)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "there is no theme named 'neon'" in error and "--theme" in error


def test_a_missing_kubeconfig_is_one_line_and_exit_2(
    manifests: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(manifests.parent / "nowhere"))
    assert main([str(manifests)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("kubedrift: no kubeconfig found") and error.count("\n") == 1


def test_no_config_and_no_folder_says_what_to_do(manifests: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "kubedrift demo" in capsys.readouterr().err


def test_a_mistyped_command_is_rejected_by_argparse(manifests: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["chek"])
    assert exit_info.value.code == 2
