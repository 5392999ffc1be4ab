from kefu.text import blank_control_chars, fold_width, normalize_for_nlu


def test_fold_width_maps_full_width_ascii_and_ideographic_space():
    assert fold_width("订单１２３４５ ＡＢＣ？\u3000ok") == "订单12345 ABC? ok"


def test_fold_width_leaves_chinese_punctuation_and_emoji():
    assert fold_width("好的，谢谢！😊") == "好的,谢谢!😊"  # ，！ are full-width ASCII forms
    assert fold_width("。「」😊") == "。「」😊"


def test_normalisation_keeps_length_so_entity_offsets_stay_valid():
    text = "订单号\x00１２３\u200b４\tok\n"
    normalized = normalize_for_nlu(text)
    assert len(normalized) == len(text)
    assert normalized == "订单号 123 4\tok\n"


def test_blank_control_chars_keeps_newlines_and_tabs():
    assert blank_control_chars("a\x07b\nc\td") == "a b\nc\td"
