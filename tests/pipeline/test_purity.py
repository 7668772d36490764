"""The pipeline's rule (its ``__init__`` docstring): no Flask, no boto3, no botocore."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("flask", "werkzeug", "boto3", "botocore", "celery", "redis")


def test_importing_the_pipeline_loads_no_web_storage_or_queue_library() -> None:
    code = (
        "import json, sys\n"
        "import imgsvc.pipeline\n"
        "from imgsvc.pipeline import receive, decode, colour, orient, plan, resize, encode\n"
        "print(json.dumps(sorted(m for m in sys.modules if '.' not in m)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "PIL" in loaded, "the probe itself must have imported the pipeline"
    assert not loaded & set(FORBIDDEN), f"the pipeline pulled in {loaded & set(FORBIDDEN)}"


def test_the_rule_is_written_where_the_folder_is() -> None:
    import imgsvc.pipeline

    doc = imgsvc.pipeline.__doc__ or ""
    assert "pure" in doc.lower()
    for name in ("Flask", "boto3", "botocore"):
        assert name in doc
