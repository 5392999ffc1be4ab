"""The training fingerprint covers exactly the code the model loads (scripts/train_if_stale.py)."""

from scripts.train_if_stale import ROOT, code_inputs, model_code


def test_the_model_code_is_the_plugins_and_what_they_import():
    files = {str(f.relative_to(ROOT)) for f in model_code()}
    # the plug-ins config.yml names, and the library modules they import (directly or not)
    assert {"kefu_rasa/tokenizer.py", "kefu_rasa/shop_entities.py"} <= files
    assert {"kefu/hanzi.py", "kefu/text.py", "kefu/matcher.py", "kefu/spelling.py"} <= files
    assert {"kefu/__init__.py", "kefu_rasa/__init__.py"} <= files  # packages run on import
    # what no model loads
    assert not any(
        f.startswith(("kefu/console/", "kefu/demo/", "kefu/report/", "kefu/review/")) for f in files
    )
    assert "kefu/agent_console.py" not in files and "kefu/cli.py" not in files


def test_the_cache_key_includes_the_locked_packages():
    assert code_inputs()[0] == "requirements.lock"
