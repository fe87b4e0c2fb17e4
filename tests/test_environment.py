"""What of agentd's environment tools see: allowlisted values, certificate and proxy settings.

Issue 15, cause 7: certificate settings are not secrets. They pass without an allowlist
entry and are never masked; a proxy URL passes without its credentials unless allowlisted
(the end-to-end proof, token canary included: tests/security/test_certificate_settings.py).
"""

from __future__ import annotations

from pathlib import Path

from support import base_profile, write_profile

from agentd.environment import load_allowed_environment
from agentd.profile import Profile, load_profile
from agentd.redaction import redact

CA = "/etc/corporate/ca-bundle.pem"


def _load(tmp_path: Path, allowlist: list[str], dotenv: str | None = None) -> Profile:
    data = base_profile(tmp_path / "clones")
    data["profile"]["verification"] = {"environment_allowlist": allowlist}
    if dotenv is not None:
        (tmp_path / "secrets.env").write_text(dotenv)
        data["profile"]["verification"]["dotenv_path"] = str(tmp_path / "secrets.env")
    return load_profile(write_profile(tmp_path / "profile.yaml", data)).profile


def test_certificate_settings_pass_without_an_allowlist_and_are_not_masked(tmp_path: Path) -> None:
    profile = _load(tmp_path, ["NPM_TOKEN"])
    environ = {
        "SSL_CERT_FILE": CA,
        "REQUESTS_CA_BUNDLE": CA,
        "NODE_EXTRA_CA_CERTS": CA,
        "PIP_CERT": CA,
        "CARGO_HTTP_CAINFO": CA,
        "CURL_CA_BUNDLE": CA,
        "GIT_SSL_CAINFO": CA,
        "SSL_CERT_DIR": "/etc/corporate/certs",
        "NPM_TOKEN": "npm_secret_value_1234",
        "AWS_SECRET_ACCESS_KEY": "not-for-tools",
    }
    values = load_allowed_environment(profile, environ).values
    assert values == {k: v for k, v in environ.items() if k != "AWS_SECRET_ACCESS_KEY"}
    assert redact(f"bundle at {CA}") == f"bundle at {CA}"
    assert "npm_secret_value_1234" not in redact("token npm_secret_value_1234")


def test_an_allowlisted_certificate_setting_is_not_a_secret_either(tmp_path: Path) -> None:
    profile = _load(tmp_path, ["SSL_CERT_FILE"], dotenv=f"SSL_CERT_FILE={CA}\n")
    values = load_allowed_environment(profile, {}).values
    assert values == {"SSL_CERT_FILE": CA}
    assert redact(CA) == CA


def test_a_proxy_passes_without_its_credentials_unless_allowlisted(tmp_path: Path) -> None:
    environ = {
        "HTTPS_PROXY": "http://agentd:Pr0xyPassw0rd@proxy.corp:3128",
        "http_proxy": "proxy.corp:3128",
        "NO_PROXY": "localhost,.corp",
    }
    values = load_allowed_environment(_load(tmp_path, []), environ).values
    assert values == {
        "HTTPS_PROXY": "http://proxy.corp:3128",
        "http_proxy": "proxy.corp:3128",
        "NO_PROXY": "localhost,.corp",
    }
    assert "Pr0xyPassw0rd" not in redact("proxy agentd:Pr0xyPassw0rd said no")
    assert redact("via http://proxy.corp:3128") == "via http://proxy.corp:3128"

    allowlisted = _load(tmp_path / "listed", ["HTTPS_PROXY"])
    values = load_allowed_environment(allowlisted, environ).values
    assert values["HTTPS_PROXY"] == "http://agentd:Pr0xyPassw0rd@proxy.corp:3128"
