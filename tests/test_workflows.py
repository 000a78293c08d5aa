"""The GitHub workflows: tests on push and pull request, the book deployed to Pages from main.

Their structure is checked here; tests/test_actionlint.py lints them with actionlint.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads a bare `on` as True
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_tests_run_on_push_and_pull_request_with_a_browser():
    workflow = load("tests.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    job = workflow["jobs"]["test"]
    assert job["env"]["CI"] == "true"
    assert job["env"]["GODEEP_CHROMIUM"]  # the browser tests must find a browser
    assert any(step.get("run", "").strip() == "bash .ci/run" for step in steps(workflow))
    python = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/setup-python")]
    assert python and python[0]["with"]["python-version"] == "3.11"


def test_book_is_built_and_deployed_to_pages_from_main():
    workflow = load("book.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert {"pages": "write", "id-token": "write"}.items() <= workflow["permissions"].items()
    build = workflow["jobs"]["build"]
    runs = " ".join(step.get("run", "") for step in build["steps"])
    assert "make book-check" in runs and "make book" in runs
    upload = [
        s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact")
    ]
    assert upload and upload[0]["with"]["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in deploy["steps"])
