"""`claims policy list|show|check` and `claims open --contract-months`: no Temporal needed."""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claimflow.policy_files import load_policy, load_policy_file
from claimflow.settings import REPO_ROOT
from models.policy import Policy, PolicyError
from claimflow.policy_cli import warranty_in_short
from starter import app
from tests.test_policy_lint import TINY

POLICY_DIR = REPO_ROOT / "policies"
CHANGKONG = POLICY_DIR / "changkong.toml"
runner = CliRunner()


@pytest.fixture(autouse=True)
def repo_policies(monkeypatch):
    """The repository's policy directory, whatever the environment says."""
    monkeypatch.setenv("CLAIMFLOW_POLICY_DIR", str(POLICY_DIR))


def claims(*args: str):
    return runner.invoke(app, list(args))


def no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def _loads(path: Path) -> bool:
    try:
        load_policy_file(path)
    except PolicyError:
        return False
    return True


def test_list_shows_changkong_with_its_seed():
    changkong = load_policy(POLICY_DIR, "changkong")
    result = claims("policy", "list")
    # other policy files may come and go in policies/: exit 0 exactly when they all load
    assert result.exit_code == (0 if all(map(_loads, POLICY_DIR.glob("*.toml"))) else 1), result.output
    assert "changkong" in result.stdout
    assert changkong.source_seed in result.stdout  # 001_c3c7366cec5789fa.txt
    no_traceback(result)
    # the warranty column, which the table wraps at the test's 80 columns
    assert warranty_in_short(changkong) == "180 days from purchase with proof; 240 days from factory shipment without"


def test_list_of_good_files_exits_0(tmp_path, monkeypatch):
    shutil.copy(CHANGKONG, tmp_path / "changkong.toml")
    monkeypatch.setenv("CLAIMFLOW_POLICY_DIR", str(tmp_path))
    result = claims("policy", "list")
    assert result.exit_code == 0, result.output
    assert "changkong" in result.stdout and "001_c3c7366cec5789fa.txt" in result.stdout
    assert "failed" not in result.output


def test_list_reports_a_broken_file_and_lists_the_rest(tmp_path, monkeypatch):
    shutil.copy(CHANGKONG, tmp_path / "changkong.toml")
    broken = CHANGKONG.read_text().replace('name = "changkong"', 'name = "broken"\ncolour = "red"')
    (tmp_path / "broken.toml").write_text(broken)
    monkeypatch.setenv("CLAIMFLOW_POLICY_DIR", str(tmp_path))
    result = claims("policy", "list")
    assert result.exit_code == 1, result.output
    assert "changkong" in result.output and "001_c3c7366cec5789fa.txt" in result.output
    assert "broken" in result.stdout and "failed" in result.stdout
    assert f"{tmp_path / 'broken.toml'}: colour: Extra inputs are not permitted" in result.output
    no_traceback(result)


def test_show_prints_rules_with_clause_texts_and_ladders():
    changkong = load_policy(POLICY_DIR, "changkong")
    result = claims("policy", "show", "changkong")
    assert result.exit_code == 0, result.output
    out = result.output
    for clause_id in ("I.1-PROOF", "I.1-NOPROOF", "RET-X7", "IV.5", "I.NOTE", "III.1"):
        assert f"{clause_id}: {changkong.clause_text(clause_id)}" in out, clause_id
    assert changkong.manufacturer in out and "Asia/Shanghai" in out and "CNY" in out
    assert "180 days from purchase with proof; 240 days from factory shipment without" in out
    assert "shipping: 7 natural days" in out and "repair: 3 working days from when the repair starts" in out
    for step in ("-48h  reminder, notify customer", "+0h  agent, notify agent", "+120h  manager, notify manager"):
        assert step in out, step
    assert "misuse — collision" in out and "effect: no free service; applies to: return" in out
    assert "no_proof_for_return" in out and "effect: refused, no service at all; applies to: return" in out
    assert "to the factory: manufacturer pays freight" in out
    # clauses no rule cites are still shown
    assert f"IV.3: {changkong.clause_text('IV.3')}" in out


@pytest.mark.parametrize("name", sorted(p.stem for p in POLICY_DIR.glob("*.toml")))
def test_show_every_policy(name: str):
    """Every shipped policy in words: a freight rule with no way back, a policy with no shipping deadline."""
    result = claims("policy", "show", name)
    no_traceback(result)
    assert result.exit_code == 0, result.output


def test_show_json_round_trips_through_the_model():
    result = claims("policy", "show", "changkong", "--json")
    assert result.exit_code == 0, result.output
    assert Policy.model_validate_json(result.stdout) == load_policy(POLICY_DIR, "changkong")


def test_show_unknown_policy_is_one_clear_line():
    result = claims("policy", "show", "no_such_policy")
    assert result.exit_code == 1
    assert "no policy named 'no_such_policy'; known: " in result.output
    assert "changkong" in result.output.split("known: ", 1)[1]
    assert len(result.output.strip().splitlines()) == 1
    no_traceback(result)


def test_check_a_good_file():
    changkong = load_policy(POLICY_DIR, "changkong")
    result = claims("policy", "check", str(CHANGKONG))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"ok: {CHANGKONG} (changkong, {len(changkong.clauses)} clauses)"


def _variant(directory: Path, stem: str, old: str, new: str) -> Path:
    text = CHANGKONG.read_text().replace('name = "changkong"', f'name = "{stem}"')
    assert old in text
    path = directory / f"{stem}.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_check_reports_every_bad_file_with_field_and_reason(tmp_path):
    invalid = tmp_path / "invalid.toml"
    invalid.write_text('name = "invalid"\nmanufacturer = \n')
    unknown_key = _variant(tmp_path, "unknown_key", "days = 180", "days = 180\ncolour = 'red'")
    undefined = _variant(tmp_path, "undefined", 'clause_ids = ["IV.5"]', 'clause_ids = ["IV.9"]')
    wrong_name = tmp_path / "wrong_name.toml"
    shutil.copy(CHANGKONG, wrong_name)
    not_text = tmp_path / "not_text.toml"
    not_text.write_bytes(b"\xff\xfe\x00name")
    missing = tmp_path / "missing.toml"

    bad = [invalid, unknown_key, undefined, wrong_name, not_text, missing]
    result = claims("policy", "check", str(CHANGKONG), *map(str, bad))
    assert result.exit_code == 1, result.output
    no_traceback(result)
    assert f"ok: {CHANGKONG} (changkong," in result.stdout
    expected = [
        f"{invalid}: (file): not valid TOML: Invalid value (at line 2, column 16)",
        f"{unknown_key}: warranty.clocks.0.colour: Extra inputs are not permitted",
        f"{undefined}: (policy): Value error, rules cite clauses that are not defined: IV.9",
        f"{wrong_name}: name: must match the file name 'wrong_name', not 'changkong'",
        f"{not_text}: (file): not UTF-8 text",
        f"{missing}: (file): No such file or directory",
    ]
    for line in expected:
        assert line in result.stderr, (line, result.output)
    assert "ok:" not in result.stderr


def _tiny(directory: Path, stem: str, extra: str = "") -> Path:
    """The small policy of tests/test_policy_lint.py (it lints clean), named `stem`, with `extra` appended."""
    path = directory / f"{stem}.toml"
    path.write_text(TINY.replace('name = "tiny"', f'name = "{stem}"') + extra)
    return path


def test_check_with_no_files_checks_every_file_of_the_policy_directory(tmp_path, monkeypatch):
    files = [_tiny(tmp_path, "first"), _tiny(tmp_path, "second")]
    monkeypatch.setenv("CLAIMFLOW_POLICY_DIR", str(tmp_path))
    result = claims("policy", "check")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stdout == "".join(f"ok: {path} ({path.stem}, 4 clauses)\n" for path in files)


UNCITED = '\n[[clauses]]\nid = "X.1"\ntext = "A promise no rule keeps."\n'


def test_check_lints_and_names_the_file_and_clause(tmp_path, monkeypatch):
    good, uncited = _tiny(tmp_path, "good"), _tiny(tmp_path, "uncited", UNCITED)
    monkeypatch.setenv("CLAIMFLOW_POLICY_DIR", str(tmp_path))
    problem = f"{uncited}: clause X.1: clause X.1 is cited by no rule and has no informational note saying why it is "
    problem += "kept.\n"
    in_directory = claims("policy", "check")  # every file of the policy directory
    one_file = claims("policy", "check", str(uncited))
    for result in (in_directory, one_file):
        no_traceback(result)
        assert result.exit_code == 1, result.output
        assert result.stderr == problem
        assert "uncited" not in result.stdout
    assert in_directory.stdout == f"ok: {good} (good, 4 clauses)\n"
    noted = _tiny(tmp_path, "uncited", UNCITED + 'informational = "a promise with no step of a claim"\n')
    result = claims("policy", "check", str(noted))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: {noted} (uncited, 5 clauses)\n"


def test_check_an_empty_or_missing_policy_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_POLICY_DIR", str(tmp_path))
    result = claims("policy", "check")
    assert result.exit_code == 0 and result.output.strip() == f"no policy files in {tmp_path}"
    monkeypatch.setenv("CLAIMFLOW_POLICY_DIR", str(tmp_path / "missing"))
    result = claims("policy", "check")
    assert result.exit_code == 1 and "does not exist" in result.output
    no_traceback(result)


def test_open_has_contract_months():
    result = claims("open", "--help")
    assert result.exit_code == 0
    assert "--contract-months" in result.output
    # mapped to the intake's contract_warranty_months: checked before anything connects
    refused = claims(
        "open", "--number", "CM-1", "--policy", "changkong", "--customer", "Li Wei", "--contact", "li@example.com",
        "--model", "CK-200", "--serial", "SN-1", "--fault", "no power", "--by", "amy", "--contract-months", "0",
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "--contract-months 0: Input should be greater than 0" in refused.output
    no_traceback(refused)
