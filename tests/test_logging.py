"""Logs are JSON lines when not on a TTY, human text on one, and always redacted."""

from __future__ import annotations

import io
import json

from agentd.log import configure_logging, get_logger
from agentd.redaction import REDACTOR

CANARY = "ghp_CANARYcanaryCANARYcanary0123456789"


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_lines_when_not_a_tty() -> None:
    stream = io.StringIO()
    configure_logging("auto", "INFO", stream)
    get_logger("t").info("hello", extra={"repo": "api"})
    record = json.loads(stream.getvalue())
    assert record["msg"] == "hello"
    assert record["repo"] == "api"
    assert record["level"] == "info"


def test_human_text_on_a_tty() -> None:
    stream = FakeTty()
    configure_logging("auto", "INFO", stream)
    get_logger("t").warning("careful")
    assert "WARNING" in stream.getvalue()
    assert not stream.getvalue().startswith("{")


def test_registered_secret_never_reaches_a_log_line() -> None:
    stream = io.StringIO()
    configure_logging("json", "DEBUG", stream)
    secret = "s3cr3t-dotenv-value"
    REDACTOR.register(secret)
    log = get_logger("t")
    log.info("value %s in message", secret, extra={"detail": f"x={secret}"})
    try:
        raise RuntimeError(f"boom {secret}")
    except RuntimeError:
        log.exception("failed")
    assert secret not in stream.getvalue()
    assert "***" in stream.getvalue()


def test_token_shapes_are_masked_even_unregistered() -> None:
    stream = io.StringIO()
    configure_logging("human", "INFO", stream)
    get_logger("t").info("token %s and key AKIAABCDEFGHIJKLMNOP", CANARY)
    assert CANARY not in stream.getvalue()
    assert "AKIAABCDEFGHIJKLMNOP" not in stream.getvalue()


def test_url_encoded_form_is_masked_too() -> None:
    REDACTOR.register("pa ss/word")
    assert REDACTOR.redact("u=pa%20ss%2Fword") == "u=***"


def test_no_log_call_names_a_field_the_log_record_already_has() -> None:
    """`extra={"created": ...}` raises KeyError inside logging — and only when that level is
    enabled, so a debug line could crash a unit under `-v` alone. Checked for every call."""
    import ast
    import logging

    from support import REPO_ROOT

    reserved = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
    clashes = []
    for path in sorted((REPO_ROOT / "agentd").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                    names = [k.value for k in keyword.value.keys if isinstance(k, ast.Constant)]
                    clashes += [f"{path.name}:{node.lineno} {n}" for n in names if n in reserved]
    assert clashes == []
