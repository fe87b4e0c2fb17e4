"""Secret-scanning cleanup: replace a committed secret by file type, or leave it to a person.

The code-scanning rule tests live in tests/rules/.
"""

from __future__ import annotations

import pytest

AWS = "AKIAIOSFODNN7CANARY1"
GHP = "ghp_" + "C" * 36


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        (".env", f"DEBUG=1\nAWS_KEY={AWS}\n", "DEBUG=1\nAWS_KEY=REPLACE_WITH_ROTATED_SECRET\n"),
        (
            "config/.env.production",
            f'AWS_KEY="{AWS}"  # prod\n',
            "AWS_KEY=REPLACE_WITH_ROTATED_SECRET  # prod\n",
        ),
        ("settings.yaml", f"aws:\n  key: {AWS}\n", 'aws:\n  key: "${AWS_ACCESS_KEY_ID}"\n'),
        ("creds.json", f'{{"key": "{AWS}"}}\n', '{"key": "${AWS_ACCESS_KEY_ID}"}\n'),
        (
            "app/settings.py",
            f'"""Settings."""\nKEY = "{AWS}"\n',
            '"""Settings."""\nimport os\nKEY = os.environ["AWS_ACCESS_KEY_ID"]\n',
        ),
        (
            "src/client.ts",
            f"const key = '{AWS}';\n",
            "const key = process.env.AWS_ACCESS_KEY_ID;\n",
        ),
        (
            "deploy.sh",
            f"#!/bin/sh\nexport KEY={AWS}\n",
            '#!/bin/sh\nexport KEY="${AWS_ACCESS_KEY_ID}"\n',
        ),
    ],
)
def test_secret_replacement_per_file_type(path: str, text: str, expected: str) -> None:
    from agentd.alerts.secret_scanning.cleanup import replace_secret

    cleanup = replace_secret(path, text, AWS, "aws_access_key_id")
    assert cleanup.text == expected
    assert AWS not in cleanup.reason


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("notes.txt", f"key {AWS}\n"),
        ("app.py", f'URL = "https://x:{AWS}@host"\n'),
        ("README.md", f"{GHP}\n"),
    ],
)
def test_unsafe_shapes_are_left_for_a_person(path: str, text: str) -> None:
    from agentd.alerts.secret_scanning.cleanup import replace_secret

    cleanup = replace_secret(path, text, AWS if AWS in text else GHP, "aws_access_key_id")
    assert cleanup.text is None
    assert AWS not in cleanup.reason and GHP not in cleanup.reason
