"""``funnel sensitivity``: the JSON, the plots, and one line per wrong option (teaching_minimal, in this process)."""

from __future__ import annotations

from cli_run import assert_one_line_per_option, in_process, strict_json
from paths import TEACHING

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_tornado_ranks_the_settings_and_writes_its_plot(tmp_path):
    code, text, err = in_process("sensitivity", str(TEACHING), "--vary", "channels.ads.spend=3000:8000",
                                 "--vary", "customers.expansion_month=0:0.05", "--reps", "4", "--seed", "1",
                                 "--json", "--plots", str(tmp_path / "plots"))
    assert code == 0, err
    document = strict_json(text)
    settings = document["settings"]
    assert [s["setting"] for s in settings] == ["channels.ads.spend", "customers.expansion_month"]
    assert settings[1]["width"] == 0 and not settings[1]["shown"]  # enters nothing: exactly 0, common worlds
    assert settings[0]["swing"] == settings[0]["at_high"] - settings[0]["at_low"]
    assert (tmp_path / "plots" / "tornado.png").read_bytes().startswith(PNG)


def test_morris_prints_its_noise_floor_and_writes_the_indices(tmp_path):
    code, text, err = in_process("sensitivity", str(TEACHING), "--method", "morris", "--samples", "4",
                                 "--vary", "channels.ads.spend=3000:8000", "--vary", "customers.expansion_month=0:0.05",
                                 "--reps", "3", "--seed", "1", "--quiet", "--plots", str(tmp_path / "plots"))
    assert code == 0, err
    assert "noise floor: mu*" in text and "not shown to matter: customers.expansion_month" in text
    assert (tmp_path / "plots" / "indices.png").read_bytes().startswith(PNG)


def test_every_wrong_option_is_one_line():
    code, out, err = in_process("sensitivity", str(TEACHING), "--vary", "roles.ae.ftee=1:3", "--vary",
                                "roles.ae.fte=3:1", "--vary", "x=abc", "--samples", "3", "--risk", "cvar",
                                "--risk-level", "0.1")
    assert_one_line_per_option(code, out, err, ["--vary", "--vary", "--vary", "--samples", "--risk"])
    code, out, err = in_process("sensitivity", str(TEACHING))
    assert_one_line_per_option(code, out, err, ["--vary"])
