"""Rasa sends its 40 kB domain only to the custom actions that read it (selective domain):
every action whose code reads ``domain`` must be one Rasa sends it to, in both profiles."""

import ast
import inspect
import textwrap
from pathlib import Path

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa_sdk.executor import ActionExecutor

ROOT = Path(__file__).resolve().parents[2]


def reads_domain(cls: type) -> bool:
    """Whether one of the class's own methods reads its ``domain`` argument."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and "domain" in {
            a.arg for a in function.args.args
        }:
            for node in ast.walk(function):
                if (
                    isinstance(node, ast.Name)
                    and node.id == "domain"
                    and isinstance(node.ctx, ast.Load)
                ):
                    return True
    return False


def kefu_actions() -> dict[str, type]:
    executor = ActionExecutor()
    executor.register_package("actions")
    return {name: type(run.__self__) for name, run in executor.actions.items()}


@pytest.mark.parametrize("endpoints", ["endpoints.yml", "endpoints.production.yml"])
def test_both_profiles_send_the_domain_selectively(endpoints):
    config = yaml.safe_load((ROOT / endpoints).read_text(encoding="utf-8"))
    assert config["action_endpoint"]["enable_selective_domain"] is True


def test_every_action_that_reads_the_domain_is_sent_it():
    domain = Domain.load(str(ROOT / "domain.yml"))
    readers = {
        name for name, cls in kefu_actions().items() if isinstance(cls, type) and reads_domain(cls)
    }
    assert readers == {"action_session_start"}  # a new reader: mark it send_domain in domain.yml
    for name in readers:
        assert domain.does_custom_action_explicitly_need_domain(name)
    validators = [n for n in domain.user_actions if n.startswith("validate_")]
    assert validators and all(
        domain.does_custom_action_explicitly_need_domain(n) for n in validators
    )
