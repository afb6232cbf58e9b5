"""``funnel sensitivity``: the JSON, the plots, and one line per wrong option (teaching_minimal, in this process)."""

from __future__ import annotations

from cli_run import assert_one_line_per_option, in_process, nonblank_lines, strict_json
from paths import BAD_DIR, TEACHING
from workbooks import assert_records_equal, by_code, formats, inputs, inputs_value

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_tornado_ranks_the_settings_and_writes_its_plot(tmp_path):
    code, text, err = in_process("sensitivity", str(TEACHING), "--vary", "channels.ads.spend=3000:8000",
                                 "--vary", "customers.expansion_month=0:0.05", "--reps", "4", "--seed", "1",
                                 "--json", "--plots", str(tmp_path / "plots"), "--excel", str(tmp_path / "s.xlsx"))
    assert code == 0, err
    document = strict_json(text)
    settings = document["settings"]
    assert [s["setting"] for s in settings] == ["channels.ads.spend", "customers.expansion_month"]
    assert settings[1]["width"] == 0 and not settings[1]["shown"]  # enters nothing: exactly 0, common worlds
    assert settings[0]["swing"] == settings[0]["at_high"] - settings[0]["at_low"]
    assert (tmp_path / "plots" / "tornado.png").read_bytes().startswith(PNG)
    # The workbook's ranked table is the JSON's, each setting's ends formatted in the setting's own unit.
    book = tmp_path / "s.xlsx"
    assert_records_equal(by_code(book, "Sensitivity").to_dict(orient="records"), settings)
    ends = formats(book, "Sensitivity", key="Setting (its path in the scenario)")
    assert ends[("channels.ads.spend", "Low value")] == "#,##0"  # money
    assert ends[("customers.expansion_month", "High value")] == "0.0%"  # a rate per month
    assert (inputs_value(book, "Replications per point"), inputs_value(book, "Method")) == (4, "tornado")
    assert [r["Value"] for r in inputs(book) if r["Item"] == "What was checked"] == document["statements"]


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


# ---------------------------------------------------------------------------------
# The file's `sensitivity:` block

BLOCK = """
sensitivity:
  method: morris
  samples: 2
  vary:
    channels.ads.spend: [3000, 8000]
    roles.ae.fte: [1, 3]
"""


def _block_file(tmp_path, block=BLOCK):
    path = tmp_path / "with_block.yaml"
    path.write_text(TEACHING.read_text() + block, encoding="utf-8")
    return path


def test_the_block_gives_what_the_options_would_bit_for_bit(tmp_path):
    run = ("--reps", "2", "--seed", "3", "--json", "--quiet")
    code, from_block, err = in_process("sensitivity", _block_file(tmp_path), *run)
    assert code == 0, err
    code, from_options, err = in_process("sensitivity", TEACHING, "--method", "morris", "--samples", "2", "--vary",
                                         "channels.ads.spend=3000:8000", "--vary", "roles.ae.fte=1:3", *run)
    assert code == 0, err
    assert strict_json(from_block)["method"] == "morris" and strict_json(from_block)["points"] == 6
    assert from_block == from_options


def test_the_options_override_the_block(tmp_path):
    run = ("--vary", "channels.ads.spend=3000:8000", "--reps", "2", "--seed", "3", "--json", "--quiet")
    code, overridden, err = in_process("sensitivity", _block_file(tmp_path), "--method", "tornado", *run)
    assert code == 0, err
    document = strict_json(overridden)
    assert document["method"] == "tornado" and [s["setting"] for s in document["settings"]] == ["channels.ads.spend"]
    code, plain, err = in_process("sensitivity", TEACHING, *run)
    assert code == 0, err
    assert overridden == plain
    # With the block's method (morris) only --samples is new: tornado would refuse it; morris takes it.
    code, out, err = in_process("sensitivity", _block_file(tmp_path), "--samples", "1", "--reps", "2")
    assert_one_line_per_option(code, out, err, ["--samples"])


def test_a_wrong_block_is_one_line_each_naming_it_with_or_without_vary():
    ends = ["sensitivity.vary.qualification.decay.half_life_hours", "sensitivity.vary.scoring.mql_threshold"]
    for path, named in ((BAD_DIR / "sensitivity_unknown_path.yaml", ["sensitivity.vary.roles.ae.ftee"]),
                        (BAD_DIR / "sensitivity_end_the_schema_refuses.yaml", ends)):
        for extra in ((), ("--vary", "roles.ae.fte=1:3")):  # a wrong file is wrong whatever is asked of it
            code, out, err = in_process("sensitivity", path, *extra)
            assert code == 2 and out == "" and "Traceback" not in err
            assert [line.removeprefix(f"{path}: ").split(": ")[0] for line in nonblank_lines(err)] == named


def test_funnel_run_is_the_same_with_the_block_and_shares_its_stored_replications(tmp_path):
    with_block = _block_file(tmp_path)
    run = ("--reps", "3", "--seed", "2", "--json", "--quiet")
    code, plain, err = in_process("run", TEACHING, *run, "--out", tmp_path / "out")
    assert code == 0, err
    code, blocked, err = in_process("run", with_block, *run, "--out", tmp_path / "out")  # resumed: the same scenario
    assert code == 0, err
    assert blocked == plain
    code, fresh, err = in_process("run", with_block, *run)
    assert code == 0, err
    assert strict_json(fresh)["replications"] == strict_json(plain)["replications"]
