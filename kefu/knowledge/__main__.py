"""``python -m kefu.knowledge check``: validate the FAQ folder; ``ask QUESTION``: answer it."""

from __future__ import annotations

import sys

from kefu.config import ConfigError


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("check", "ask"):
        print("usage: python -m kefu.knowledge check | ask [--en] QUESTION", file=sys.stderr)
        return 2
    if argv[0] == "check":
        from kefu.knowledge.faq import faq_dir, load_faq

        try:
            entries = load_faq()
        except ConfigError as error:
            print(error, file=sys.stderr)
            return 1
        print(f"{faq_dir()}: {len(entries)} FAQ entries, all valid")
        return 0
    from kefu.knowledge.answer import answer

    language = "en" if "--en" in argv else "zh"
    question = " ".join(a for a in argv[1:] if a != "--en")
    result = answer(question, language)
    print(result.text)
    print(f"[{result.kind}, {result.seconds * 1000:.1f} ms]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
