"""The project's own pre-commit hooks."""
from __future__ import annotations

from scripts.dev.hooks import binary_findings, secret_findings


def test_model_binaries_are_refused():
    assert binary_findings(["models/model_v1.joblib", "a/b.PKL", "params.yaml"]) == [
        "models/model_v1.joblib: model binary (.joblib); artifacts are built by make train, never committed",
        "a/b.PKL: model binary (.PKL); artifacts are built by make train, never committed"]


def test_secret_looking_values_are_refused():
    text = "db:\n  password: hunter22\n  api_key: ${API_KEY}\n# token: ignored-comment\nAKIAABCDEFGHIJKLMNOP\n"
    findings = secret_findings("conf.yaml", text)
    assert findings == ["conf.yaml:2: 'password' set to a literal value; read it from the environment instead",
                        "conf.yaml:5: looks like an AWS access key id"]


def test_the_projects_own_config_is_clean():
    from scripts.core.config import ROOT

    for name in ["params.yaml", ".pre-commit-config.yaml"]:
        assert secret_findings(name, (ROOT / name).read_text()) == []
