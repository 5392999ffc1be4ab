import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from kefu_rasa.sentence_encoder import SentenceEncoderFeaturizer, text_read
from kefu_rasa.tokenizer import KefuTokenizer


@pytest.fixture(scope="module")
def components(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("model"))
    config = {**KefuTokenizer.get_default_config(), "dictionary_path": "data/dictionaries/jieba"}
    tokenizer = KefuTokenizer.create(config, storage, Resource("tok"), execution_context=None)

    class Context:
        node_name = "sentence_encoder"

    featurizer = SentenceEncoderFeaturizer.create({}, storage, Resource("enc"), Context())
    return tokenizer, featurizer


def featurized(components, *texts):
    tokenizer, featurizer = components
    messages = tokenizer.process([Message({TEXT: t}) for t in texts])
    return featurizer.process(messages)


def sentence_vector(message):
    _, sentence = message.get_dense_features(TEXT)
    return None if sentence is None else sentence.features


def cosine(a, b):
    return float(a.ravel() @ b.ravel())


def test_every_message_gets_one_unit_sentence_vector_and_no_sequence_features(components):
    (message,) = featurized(components, "有什么新款手机推荐")
    sequence, sentence = message.get_dense_features(TEXT)
    assert sequence is None
    assert sentence.features.shape == (1, 512)
    assert np.linalg.norm(sentence.features) == pytest.approx(1.0, abs=1e-3)


def test_paraphrases_and_translations_are_closer_than_another_ask(components):
    track, paraphrase, english, invoice = (
        sentence_vector(m)
        for m in featurized(
            components, "我的订单到哪了", "包裹现在在什么地方", "where is my order", "能开发票吗"
        )
    )
    assert cosine(track, paraphrase) > cosine(track, invoice)
    assert cosine(track, english) > cosine(track, invoice)


def test_traditional_chinese_is_encoded_as_the_tokenizer_reads_it(components):
    simplified, traditional = featurized(components, "我的订单到哪里了", "我的訂單到哪裡了")
    assert cosine(sentence_vector(simplified), sentence_vector(traditional)) > 0.999


def test_a_long_message_is_encoded_from_the_ask_the_tokenizer_kept(components):
    story = "上周给我妈买了个电饭煲，她说挺好的，我也想送朋友一个，朋友家人多，平时做饭量大，" * 2
    (message,) = featurized(components, story + "所以想问下有没有大容量的推荐")
    assert text_read(message) == "所以想问下有没有大容量的推荐"


def test_a_message_without_text_gets_zeros_of_the_same_width(components):
    # the classifier expects every message to have the same number of features
    _, featurizer = components
    empty = Message({TEXT: "  "})
    featurizer.process([empty])
    assert sentence_vector(empty).shape == (1, 512) and not sentence_vector(empty).any()


def test_training_examples_are_featurized_in_one_batch(components):
    tokenizer, featurizer = components
    examples = [Message({TEXT: t, "intent": "greet"}) for t in ("你好", "hello", "在吗")]
    data = TrainingData(tokenizer.process(examples))
    featurizer.process_training_data(data)
    assert all(sentence_vector(m).shape == (1, 512) for m in data.training_examples)
