"""The operators' command line: one bad file never stops the other units."""

from pathlib import Path

import pytest

from village_reports.__main__ import main


def test_summary_reads_every_file_even_past_a_bad_one(tmp_path: Path, capsys) -> None:
    inbox = tmp_path / "inbox"
    assert main(["samples", "--inbox", str(inbox), "--years", "2021", "--no-drafts"]) == 0
    (inbox / "2021" / "MT05_broken.xlsx").write_bytes(b"not a workbook at all")
    assert main(["summary", "--inbox", str(inbox), "-v"]) == 0
    out = capsys.readouterr().out
    assert out.count("2021    MT") == 19  # every good file has its line
    assert "MT05_broken.xlsx" in out and "不是 Excel 工作簿" in out


def test_samples_never_overwrite_a_filled_inbox(tmp_path: Path, capsys) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "2021").mkdir(parents=True)
    clerk_file = inbox / "2021" / "MT01_鸣山村_2021.xlsx"
    clerk_file.write_bytes(b"the clerk's own file")
    assert main(["samples", "--inbox", str(inbox)]) == 0
    assert clerk_file.read_bytes() == b"the clerk's own file"
    assert "not written" in capsys.readouterr().out


def test_templates_for_every_unit(tmp_path: Path) -> None:
    assert main(["templates", "--out", str(tmp_path), "--years", "2022"]) == 0
    assert len(list((tmp_path / "2022").glob("*.xlsx"))) == 19
    assert (tmp_path / "annual_report_template.docx").is_file()  # the annual report's, for the office to edit


def test_help_is_in_chinese_and_shows_defaults(capsys) -> None:
    for argv in (["--help"], ["templates", "--help"], ["samples", "-h"], ["status", "-h"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("用法：") and "显示帮助并退出" in out and "show this help" not in out
        assert out.startswith(f"用法：python -m village_reports {argv[0] if len(argv) > 1 else ''}".rstrip()), out
        assert out.count("用法：") == 1, out  # never 用法：用法：, in a subcommand's help
    main_help = _help(capsys, ["--help"])
    assert "为名册中每个单位生成空白模板" in main_help and "仓库概况" in main_help
    assert "（默认：output/templates）" in _help(capsys, ["templates", "-h"])
    assert "（默认：data/inbox）" in _help(capsys, ["samples", "-h"])


def _help(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit):
        main(argv)
    return capsys.readouterr().out


def test_status_on_a_new_warehouse_says_what_to_do(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    assert main(["status"]) == 1
    assert "还没有任何年度的数据" in capsys.readouterr().out
