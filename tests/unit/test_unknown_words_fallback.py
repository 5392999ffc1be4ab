import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from kefu_rasa.tokenizer import KefuTokenizer
from kefu_rasa.unknown_words_fallback import UnknownWordsFallbackClassifier


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


@pytest.fixture
def tokenizer(storage):
    return KefuTokenizer.create(
        KefuTokenizer.get_default_config(), storage, Resource("tok"), execution_context=None
    )


def message(tokenizer, text, intent="greet"):
    m = Message({TEXT: text})
    tokenizer.process([m])
    m.set(INTENT, {"name": intent, "confidence": 1.0})
    m.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 1.0}])
    return m


@pytest.fixture
def trained(storage, tokenizer):
    examples = [Message({TEXT: t, INTENT: "x"}) for t in ("hello there", "你好呀", "thanks a lot")]
    tokenizer.process(examples)
    resource = Resource("unknown_words")
    config = UnknownWordsFallbackClassifier.get_default_config()
    UnknownWordsFallbackClassifier.create(config, storage, resource, None).train(
        TrainingData(examples)
    )
    # load from the model storage, as `rasa run` does
    return UnknownWordsFallbackClassifier.load(config, storage, resource, None)


def intent_of(classifier, tokenizer, text):
    [m] = classifier.process([message(tokenizer, text)])
    return m.get(INTENT)["name"], m.get(INTENT_RANKING_KEY)[0]["name"]


def test_gibberish_becomes_nlu_fallback(trained, tokenizer):
    assert intent_of(trained, tokenizer, "asdfghjkl qwerty") == ("nlu_fallback", "nlu_fallback")


def test_one_known_word_keeps_the_models_intent(trained, tokenizer):
    assert intent_of(trained, tokenizer, "HELLO zzzzz") == ("greet", "greet")
    assert intent_of(trained, tokenizer, "你好") == ("greet", "greet")


def test_numbers_are_values_not_unknown_words(trained, tokenizer):
    assert intent_of(trained, tokenizer, "１２３４") == ("greet", "greet")
    assert intent_of(trained, tokenizer, "13912345678") == ("greet", "greet")
