from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from kefu_rasa.language_detector import LanguageDetector


def test_language_is_part_of_the_parse_output():
    detector = LanguageDetector.create({}, None, None, None)
    messages = [Message({TEXT: t}) for t in ("你好", "hello", "こんにちは", "👍")]
    detector.process(messages)
    assert [m.get("language") for m in messages] == ["zh", "en", "other", None]
    assert messages[0].as_dict(only_output_properties=True)["language"] == "zh"
