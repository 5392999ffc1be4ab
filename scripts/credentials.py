"""Turn ``credentials.yml`` into the channels this deployment actually has.

``credentials.yml`` lists every channel kefu supports, configured from environment variables.
A channel is switched on when every ``${VARIABLE}`` it needs is set; ``${VARIABLE:-default}``
marks an optional value.  The file written for ``rasa run --credentials`` keeps the ``${...}``
references (Rasa fills them in when it starts), so secrets never land on disk; an optional value
that is not set becomes its default, or is left out when the default is empty.

The REST channel is open to anyone who reaches the port unless it has a ``token``
(``KEFU_REST_TOKEN``); with ``KEFU_PROFILE=production`` it is switched on only with one.

    python -m scripts.credentials credentials.yml .kefu/credentials.yml
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
REST_CHANNELS = ("kefu_rasa.channels.builtin.RestChannel", "rest")
PROFILE_ENV = "KEFU_PROFILE"


class CredentialsError(ValueError):
    """credentials.yml cannot be read or has the wrong shape."""


@dataclass
class ChannelChoice:
    channel: str
    enabled: bool
    missing: list[str] = field(default_factory=list)


def _resolve(value: Any, env: Mapping[str, str], missing: list[str]) -> Any:
    """``value`` with optional variables settled; required unset ones go to ``missing``."""
    if isinstance(value, dict):
        resolved = {k: _resolve(v, env, missing) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not None}
    if not isinstance(value, str):
        return value

    def settle(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if env.get(name):
            return "${" + name + "}"
        if default is None:
            missing.append(name)
            return match.group(0)
        return default

    settled = VARIABLE.sub(settle, value)
    return None if settled == "" else settled


def effective_credentials(
    text: str, env: Mapping[str, str], source: str = "credentials.yml"
) -> tuple[dict[str, Any], list[ChannelChoice]]:
    """The channels whose variables are all set, and a line of explanation per channel."""
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise CredentialsError(f"{where}: not valid YAML") from error
    if not isinstance(raw, dict):
        raise CredentialsError(f"{source}: must map channel names to their settings")
    enabled: dict[str, Any] = {}
    choices = []
    production = env.get(PROFILE_ENV, "").strip().lower() == "production"
    for channel, settings in raw.items():
        if settings is not None and not isinstance(settings, dict):
            raise CredentialsError(f"{source}: settings of '{channel}' must be a mapping")
        missing: list[str] = []
        resolved = _resolve(settings or {}, env, missing)
        if str(channel) in REST_CHANNELS and production and not (resolved or {}).get("token"):
            token = VARIABLE.search(str((settings or {}).get("token") or ""))
            missing.append(token.group(1) if token else "a token")
        choices.append(ChannelChoice(str(channel), not missing, missing))
        if not missing:
            enabled[str(channel)] = resolved or None
    return enabled, choices


def main(argv: list[str] | None = None) -> int:
    """Write the effective credentials file and say which channels are on."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m scripts.credentials SOURCE TARGET", file=sys.stderr)
        return 2
    source, target = Path(args[0]), Path(args[1])
    try:
        enabled, choices = effective_credentials(
            source.read_text(encoding="utf-8"), os.environ, str(source)
        )
    except (OSError, CredentialsError) as error:
        print(f"kefu: {error}", file=sys.stderr)
        return 1
    target.write_text(
        "# Written by scripts/credentials.py from "
        f"{source.name}; edit that file instead.\n"
        + yaml.safe_dump(enabled, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    for choice in choices:
        name = choice.channel.rsplit(".", 1)[-1]
        state = "on" if choice.enabled else f"off (set {', '.join(choice.missing)})"
        print(f"  channel {name:<16} {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
