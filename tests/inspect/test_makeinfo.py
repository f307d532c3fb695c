"""make status's reasons, from make's own rules and the files' times, in the user's words."""
from __future__ import annotations

import os

from scripts.inspect.makeinfo import Layout, stale_reasons, unknown_goal


def test_the_values_make_stamps_are_named_in_the_users_words(tmp_path):
    layout = Layout(".make/out/", ".make/stamps/")
    (tmp_path / ".make/out").mkdir(parents=True)
    (tmp_path / ".make/stamps").mkdir(parents=True)
    done = tmp_path / ".make/out/prepare.done"
    done.touch()
    os.utime(done, ns=(1_000_000_000, 1_000_000_000))
    for name in ("extra.value", "params.path", "params-data.sha"):
        (tmp_path / ".make/stamps" / name).touch()
    rules = {"prepare": [".make/stamps/extra.value", ".make/stamps/params.path", ".make/stamps/params-data.sha"]}
    assert stale_reasons(rules, tmp_path, layout) == {"prepare": [
        "the last build was make retrain's (with its labelled rows); make train builds params.yaml's version",
        "the last build used another params file (CLOCKWORK_PARAMS)", "params.yaml section 'data' changed"]}


def test_an_unknown_goal_names_the_nearest_targets():
    assert unknown_goal("trian", ["train", "retrain", "serve"]).startswith("error: make trian: no such target; did you mean "
                                                                          "make train or make retrain?")
    assert unknown_goal("zzz", ["train"]) == "error: make zzz: no such target; make help lists them all"
