"""`make cloudbuild`'s reading of cloudbuild.yaml: Cloud Build's substitution rules, the steps in
the file's order, and the refusals Cloud Build makes before any step runs."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from deploy.images import cloudbuild
from deploy.images.cloudbuild import ROOT, SubstitutionError, load, substitute, values_for

CONFIG = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_dollar_dollar_is_a_dollar_and_names_are_replaced_in_both_forms():
    values = {"PROJECT_ID": "p1", "_REGION": "r1"}
    text = 'echo "$$HOME ${_REGION} $PROJECT_ID $${!name} $$1"'
    assert substitute(text, values) == 'echo "$HOME r1 p1 ${!name} $1"'


def test_an_unknown_name_is_refused_as_cloud_build_refuses_it():
    with pytest.raises(SubstitutionError, match="'_REGON' is not a valid built-in"):
        substitute("${_REGON}", {"_REGION": "x"})


@given(st.text(alphabet=st.sampled_from("ab$_{}XY 1"), max_size=40))
def test_text_without_known_names_is_either_kept_or_refused(text):
    """Any text: `$$` pairs become `$`, and a `$NAME` it does not know is refused, never kept."""
    try:
        out = substitute(text, {})
    except SubstitutionError:
        return
    assert out.count("$") <= text.count("$")
    assert "$X" not in out.replace("$$", "") or "$$X" in text


def test_every_step_of_the_file_in_order_with_the_options_environment():
    build = load(CONFIG, values_for(CONFIG, {}, "local-ib", SHA))
    assert [s.id for s in build.steps] == [s["id"] for s in CONFIG["steps"]]
    check = build.steps[0]
    assert check.command[:2] == ["bash", "-c"] and "$$" not in check.command[2]
    assert check.env["TRADING_MODE"] == "paper" and check.env["PROJECT"] == "local-ib"
    lint = next(s for s in build.steps if s.id == "lint-and-test")
    assert lint.image == "europe-west6-docker.pkg.dev/local-ib/ib-worker/ib-worker:0123456"
    assert lint.env["HOME"] == "/tmp/home"  # the step's own env on top of the options'


def test_a_given_substitution_reaches_the_steps():
    build = load(CONFIG, values_for(CONFIG, {"_TRADING_MODE": "live"}, "local-ib", SHA))
    assert all(step.env["TRADING_MODE"] == "live" for step in build.steps)


@pytest.mark.parametrize(
    ("given", "words"),
    [({"_TRADNG_MODE": "live"}, "'_TRADNG_MODE' is not declared")],
)
def test_a_misspelt_substitution_fails_before_any_step(given, words):
    with pytest.raises(SubstitutionError, match=words):
        load(CONFIG, values_for(CONFIG, given, "local-ib", SHA))


def test_a_declared_substitution_the_template_never_uses_is_refused():
    config = {**CONFIG, "substitutions": {**CONFIG["substitutions"], "_UNUSED": "x"}}
    with pytest.raises(SubstitutionError, match="'_UNUSED' in the substitution data is not used"):
        load(config, values_for(config, {}, "local-ib", SHA))


def test_make_cloudbuild_refuses_a_substitution_that_is_not_key_value_in_one_line(capsys):
    """Before anything runs (no git, no buildah: the check holds inside the worker image too)."""
    assert cloudbuild.main(["_TRADING_MODE"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "cloudbuild: substitution '_TRADING_MODE' is not KEY=VALUE"
    ]
