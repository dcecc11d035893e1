"""Labeler choices that cannot run on the configured source stop at composition, naming the key to change."""
from pathlib import Path

import pytest

from needlework.config import ConfigError, compose

CONF = Path(__file__).resolve().parents[1] / "conf"
JSONL = "data=jsonl data.path=/abs/bios.jsonl data.text_field=bio"


def test_openai_labeler_on_a_jsonl_source_composes_without_an_impossible_comparison():
    cfg = compose(f"{JSONL} labeler=openai", config_dir=CONF)
    assert cfg["labeler"]["kind"] == "openai"
    assert cfg["labeler"]["compare_with"] is None


def test_comparing_with_infobox_labels_on_a_jsonl_source_names_labeler_compare_with():
    with pytest.raises(ConfigError, match=r"labeler\.compare_with.*infobox") as err:
        compose(f"{JSONL} labeler=openai labeler.compare_with=infobox", config_dir=CONF)
    assert "labeler=openai" not in str(err.value)  # the advice is not the choice that failed


def test_comparing_with_field_labels_needs_the_label_field():
    with pytest.raises(ConfigError, match=r"labeler\.compare_with.*data\.label_field"):
        compose(f"{JSONL} labeler=openai labeler.compare_with=field", config_dir=CONF)
    cfg = compose(f"{JSONL} data.label_field=json labeler=openai labeler.compare_with=field", config_dir=CONF)
    assert cfg["labeler"]["compare_with"] == "field"


@pytest.mark.parametrize("source", ["data=synthetic", "data=wiki_bio data.path=/abs/wikibio.jsonl"])
def test_sources_with_infoboxes_may_compare_with_infobox_labels(source):
    cfg = compose(f"{source} labeler=openai labeler.compare_with=infobox", config_dir=CONF)
    assert cfg["labeler"]["compare_with"] == "infobox"


def test_the_published_setup_still_compares_mistral_with_infobox_labels():
    assert compose("experiment=blog_16k", config_dir=CONF)["labeler"]["compare_with"] == "infobox"
