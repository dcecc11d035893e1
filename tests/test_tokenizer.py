"""The tiny tokenizer: special tokens, chat template (BOS, generation markers), determinism, save/reload."""
import pytest
from faker import Faker
from transformers import AutoTokenizer

from needlework.tokenizer import CHAT_TEMPLATE, train_tokenizer, train_word_tokenizer

CHAT = [
    {"role": "system", "content": "extract information about a person in JSON"},
    {"role": "user", "content": "anna berg ( born 2 march 1950 ) is a swedish skier .\n\nwho is anna berg ?"},
    {"role": "assistant", "content": '{"nationality": "swedish"}'},
]


def _texts(n=300, seed=0):
    fake = Faker()
    fake.seed_instance(seed)
    return [f"{fake.name().lower()} ( born {fake.date()} ) is a {fake.job().lower()} . {fake.paragraph(5).lower()}"
            for _ in range(n)]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(_texts(), vocab_size=1024)


def test_special_tokens_and_roles(tok):
    assert len(tok) == 1024
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == ("<|bos|>", "<|end|>", "<|pad|>", "<|unk|>")
    assert set(tok.extra_special_tokens) == {"<|system|>", "<|user|>", "<|assistant|>"}
    assert tok.chat_template == CHAT_TEMPLATE
    assert tok.pad_token_id != tok.eos_token_id


def test_templated_conversation_starts_with_one_bos_and_plain_text_gets_none(tok):
    ids = tok.apply_chat_template(CHAT[:2], add_generation_prompt=True, return_dict=False)
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
    assert ids[-1] == tok.convert_tokens_to_ids("<|assistant|>")
    assert tok.bos_token_id not in tok("anna berg")["input_ids"]
    text = tok.apply_chat_template(CHAT, tokenize=False)
    assert text == ("<|bos|><|system|>" + CHAT[0]["content"] + "<|end|><|user|>" + CHAT[1]["content"]
                    + "<|end|><|assistant|>" + CHAT[2]["content"] + "<|end|>")


def test_assistant_mask_covers_the_answer_and_its_end_token(tok):
    enc = tok.apply_chat_template(CHAT, return_assistant_tokens_mask=True)
    answer = [i for i, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert tok.decode(answer) == CHAT[2]["content"] + "<|end|>"
    assert sum(enc["assistant_masks"]) < len(enc["input_ids"]) // 2


def test_unknown_role_is_refused(tok):
    with pytest.raises(Exception, match="unknown chat role: tool"):
        tok.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


def test_byte_level_round_trips_any_text(tok):
    text = "zoë ångström — 東京 ✓ <b>\ttabs\n\nnewlines"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.unk_token_id not in tok(text)["input_ids"]


def test_training_is_deterministic():
    a = train_tokenizer(_texts(seed=3), vocab_size=600)
    b = train_tokenizer(_texts(seed=3), vocab_size=600)
    assert a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()


def test_save_and_reload_gives_identical_ids(tok, tmp_path):
    tok.save_pretrained(tmp_path / "tok")
    again = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert again.chat_template == tok.chat_template
    assert again.apply_chat_template(CHAT, return_dict=False) == tok.apply_chat_template(CHAT, return_dict=False)
    texts = _texts(20, seed=9)
    assert again(texts)["input_ids"] == tok(texts)["input_ids"]
    assert (again.eos_token_id, again.pad_token_id, again.bos_token_id) == (tok.eos_token_id, tok.pad_token_id,
                                                                            tok.bos_token_id)


def test_vocab_too_small_for_bytes_and_specials():
    with pytest.raises(ValueError, match="vocab_size"):
        train_tokenizer(["a b c"], vocab_size=200)


@pytest.fixture(scope="module")
def word_tok():
    return train_word_tokenizer(_texts(), bpe_vocab_size=400, words=["kowalczyk", "zoë"], min_count=2)


def test_words_names_and_numbers_are_one_token_each_and_the_rest_falls_back_to_pieces(word_tok):
    tokens = word_tok.tokenize(" the kowalczyk zoë ( born 1957 ) 2100")
    assert tokens == [word_tok.convert_ids_to_tokens(word_tok(" " + w)["input_ids"])[0]
                      for w in "the kowalczyk zoë ( born 1957 ) 2100".split()]
    assert len(word_tok.tokenize(" qwzxv")) > 1  # never seen: BPE pieces
    text = "zoë kowalczyk ( born 3 may 1957 ) is a qwzxv — 東京\n\nnext"
    # lossless but for the spaces the tokenizer puts before a word at the start of the text or of a line
    assert word_tok.decode(word_tok(text)["input_ids"]) == " " + text.replace("\nnext", "\n next")


def test_a_name_is_the_same_token_wherever_it_stands(word_tok):
    """The first biography of a haystack follows <|user|>, the others a blank line, the question's name a space:
    one token id for the name in all three places, so a match over names is a match of ids."""
    chat = [{"role": "user", "content": "kowalczyk was born\n\nkowalczyk is\n\nabout kowalczyk."}]
    ids = word_tok.apply_chat_template(chat, return_dict=False)
    name = word_tok(" kowalczyk", add_special_tokens=False)["input_ids"]
    assert len(name) == 1 and ids.count(name[0]) == 3


def test_word_tokenizer_is_deterministic_and_keeps_the_chat_template(word_tok, tmp_path):
    again = train_word_tokenizer(_texts(), bpe_vocab_size=400, words=["kowalczyk", "zoë"], min_count=2)
    assert again.backend_tokenizer.to_str() == word_tok.backend_tokenizer.to_str()
    word_tok.save_pretrained(tmp_path / "tok")
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert reloaded.apply_chat_template(CHAT, return_dict=False) == word_tok.apply_chat_template(CHAT, return_dict=False)
    ids = word_tok.apply_chat_template(CHAT[:2], add_generation_prompt=True, return_dict=False)
    assert ids[0] == word_tok.bos_token_id and ids.count(word_tok.bos_token_id) == 1
