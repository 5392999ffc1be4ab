import numpy as np
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from kefu_rasa.intent_classifier import IntentLogisticRegression


class Context:
    node_name = "intent_classifier"


def message(vector, intent=None):
    m = Message({TEXT: "x", **({"intent": intent} if intent else {})})
    m.add_features(Features(np.array([vector], dtype=np.float32), "sentence", TEXT, "f"))
    return m


def classifier(storage, c):
    config = {**IntentLogisticRegression.get_default_config(), "C": c}
    return IntentLogisticRegression.create(config, storage, Resource("clf"), Context())


def test_the_regularisation_is_a_setting_and_survives_saving(tmp_path):
    storage = LocalModelStorage(tmp_path)
    component = classifier(storage, 4)
    assert component.clf.C == 4.0
    examples = [message([1, 0], "greet"), message([0, 1], "goodbye")] * 5
    component.train(TrainingData(examples))
    config = {**IntentLogisticRegression.get_default_config(), "C": 4}
    loaded = IntentLogisticRegression.load(config, storage, Resource("clf"), Context())
    assert loaded.clf.C == 4.0
    (parsed,) = loaded.process([message([1, 0])])
    assert parsed.get("intent")["name"] == "greet"


def test_weaker_regularisation_gives_surer_right_answers(tmp_path):
    examples = [message([1, 0.2], "greet"), message([0.2, 1], "goodbye")] * 5
    confidence = {}
    for c in (1, 10):
        (tmp_path / str(c)).mkdir()
        component = classifier(LocalModelStorage(tmp_path / str(c)), c)
        component.train(TrainingData(examples))
        (parsed,) = component.process([message([1, 0.2])])
        confidence[c] = parsed.get("intent")["confidence"]
    assert confidence[10] > confidence[1]


def test_serving_gives_scikit_learns_probabilities_and_ranking(tmp_path):
    rng = np.random.default_rng(0)
    intents = ["greet", "goodbye", "affirm", "deny"]
    examples = [message(rng.random(6), intents[i % 4]) for i in range(40)]
    component = classifier(LocalModelStorage(tmp_path), 4)
    component.train(TrainingData(examples))
    probe = [message(rng.random(6)) for _ in range(5)]
    expected = component.clf.predict_proba(component._create_X(probe))
    assert np.allclose(component.probabilities(probe), expected, atol=1e-9)
    for parsed, row in zip(component.process(probe), expected, strict=True):
        ranking = parsed.get("intent_ranking")
        assert [r["name"] for r in ranking] == [intents_by(component)[i] for i in np.argsort(-row)]
        assert parsed.get("intent") == ranking[0]


def intents_by(component):
    return [str(name) for name in component.clf.classes_]
