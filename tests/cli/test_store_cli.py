"""What the command line says about experiment directories: notes in one line each, a user's folder refused."""

import re

from cli_run import in_process, nonblank_lines, strict_json
from paths import TEACHING

ARGS = ("--reps", 6, "--seed", 3, "--chunk-size", 2, "--json", "--quiet")


def test_a_damaged_chunk_is_one_line_on_resume_and_the_numbers_are_those_of_a_run_made_at_once(tmp_path):
    out = tmp_path / "exp"
    code, first, err = in_process("run", TEACHING, *ARGS, "--out", out)
    assert (code, err) == (0, "")
    damaged = out / "chunks" / "00000002" / "replications.parquet"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))

    code, again, err = in_process("run", TEACHING, *ARGS, "--out", out)
    assert code == 0
    [line] = nonblank_lines(err)
    assert re.fullmatch(rf"--out: {re.escape(str(out / 'chunks' / '00000002'))}: set aside in "
                        rf"{re.escape(str(out / 'quarantine'))}/00000002-1 \(.+\); its replications are run again",
                        line), line
    assert strict_json(again)["replications"] == strict_json(first)["replications"]
    assert (out / "quarantine" / "00000002-1" / "replications.parquet").read_bytes() == bytes(data)  # kept


def test_compare_never_writes_into_a_folder_of_the_users_own(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "replications.csv").write_text("my own numbers\n", encoding="utf-8")
    code, out, err = in_process("compare", TEACHING, "--marketing-share", "0.3", "--reps", 2, "--out", mine)
    assert code == 2 and out == ""
    assert nonblank_lines(err) == [f"--out: {mine}: not empty (replications.csv) and not the output of an earlier "
                                   "run (no runs/ or about.json of funnel-sim); use a new or empty directory"]
    assert [p.name for p in mine.iterdir()] == ["replications.csv"]
    assert (mine / "replications.csv").read_text(encoding="utf-8") == "my own numbers\n"
