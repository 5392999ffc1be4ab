"""Train the Rasa model only when something it is built from has changed.

The fingerprint covers the training data, domain, config, the locked packages and exactly the
Python code the model loads: the plug-ins config.yml names and the modules of ``kefu`` they import,
found by reading their imports (Rasa's own fingerprint does not look at custom component code).
Editing the agent console, the demo shop or the report does not retrain.
It is stored next to the model as ``models/kefu.fingerprint``.

Usage: python scripts/train_if_stale.py [--force]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "kefu.tar.gz"
FINGERPRINT = ROOT / "models" / "kefu.fingerprint"
CONFIG = ROOT / "config.yml"
OWN_PACKAGES = ("kefu", "kefu_rasa")  # the code a model can load besides Rasa's


def _module_file(module: str) -> Path | None:
    """The source file of one of our modules (a package's ``__init__.py``), or None."""
    if module.split(".")[0] not in OWN_PACKAGES:
        return None
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(file: Path) -> set[str]:
    """Modules ``file`` imports (absolute names; ``from x import y`` gives x and x.y)."""
    package = ".".join(file.relative_to(ROOT).with_suffix("").parts)
    if file.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def model_code() -> list[Path]:
    """The source files a trained model loads: the plug-ins config.yml names and every module
    of ours they import, with the packages around them.  Editing the console, the demo shop or
    the report does not retrain."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    names = [c["name"] for c in [*config.get("pipeline", []), *config.get("policies", [])]]
    todo = [name.rpartition(".")[0] for name in names if "." in name]
    seen: set[Path] = set()
    while todo:
        module = todo.pop()
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b too
            file = _module_file(".".join(parts[:depth]))
            if file is not None and file not in seen:
                seen.add(file)
                todo.extend(_imports(file))
    return sorted(seen)


def fingerprint(inputs: list[str] | None = None) -> str:
    """SHA-256 over the names and contents of every file the model depends on: config,
    domain, training data, the locked packages and :func:`model_code`."""
    if inputs is None:
        inputs = ["config.yml", "domain.yml", "data", *code_inputs()]
    digest = hashlib.sha256()
    for name in inputs:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def code_inputs() -> list[str]:
    """The locked packages and the model's own code (the cache of trained components is kept
    per version of them)."""
    return ["requirements.lock", *(str(f.relative_to(ROOT)) for f in model_code())]


def is_stale() -> bool:
    """True when the model is missing or was trained from other inputs."""
    return (
        not MODEL.exists()
        or not FINGERPRINT.exists()
        or FINGERPRINT.read_text().strip() != fingerprint()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the model if its inputs changed.")
    parser.add_argument("--force", action="store_true", help="train even if up to date")
    args = parser.parse_args(argv)
    if not args.force and not is_stale():
        print(f"train: {MODEL.relative_to(ROOT)} is up to date")
        return 0
    wanted = fingerprint()
    rasa = Path(sys.executable).parent / "rasa"
    command = [str(rasa), "train", "--fixed-model-name", "kefu", "--out", str(MODEL.parent)]
    # the stories are written as whole conversations: gluing them together (Rasa's default
    # augmentation) only multiplies TED's training trackers (benchmarks/TUNING.md, T7)
    command += ["--augmentation", "0"]
    print("train: " + " ".join(command[1:]), flush=True)
    # Rasa caches trained components by config and data, not by plug-in code: one cache per
    # version of the code, so a changed component is never restored from an old cache.
    cache = ROOT / ".rasa" / f"cache-{fingerprint(code_inputs())[:16]}"
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "RASA_CACHE_DIRECTORY": str(cache),
        # fixed string hashing: set and dict orders (vocabularies, label ids) repeat run to run
        "PYTHONHASHSEED": "0",
    }
    result = subprocess.run(command, cwd=ROOT, env=env)
    if result.returncode != 0:
        print("train: training failed", file=sys.stderr)
        return result.returncode
    FINGERPRINT.write_text(wanted + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
