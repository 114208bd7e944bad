"""A tiny randomly initialised BERT checkpoint with a Chinese-character WordPiece tokenizer, built locally.

Used by the encoder and ensemble tests: nothing is downloaded; building takes well under a second.
"""

from __future__ import annotations

from pathlib import Path

TEXTS = [
    "今天天气很好，我们去公园散步吧。",
    "我真的好累，感觉活着没有意义。",
    "最近总是失眠，晚上一个人躺着胡思乱想。",
    "谢谢大家的关心，我会好好照顾自己的。",
    "工作压力太大了，每天加班到深夜。",
    "我不想再麻烦任何人了，也许离开是最好的选择。",
    "考试又没考好，觉得自己什么都做不好。",
    "药已经买好了，这周末就结束这一切。",
    "周末去图书馆看书，顺便买了一杯咖啡。",
    "和朋友一起吃火锅，开心！",
    "我已经写好遗书了，明天就走。",
    "活着好痛苦，想死但是不敢。",
]


def build_tiny_bert(folder: Path, *, model_type: str = "bert") -> Path:
    """Write a 2-layer, 32-wide BERT (or ELECTRA) with a WordPiece vocabulary of the test texts' characters."""
    import tokenizers
    import torch
    import transformers

    chars = sorted({ch for text in TEXTS for ch in text})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizers.Tokenizer(
        tokenizers.models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]")
    )
    tokenizer.normalizer = tokenizers.normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    settings = {
        "vocab_size": len(vocab),
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 128,
        "pad_token_id": 0,
    }
    torch.manual_seed(0)
    if model_type == "electra":
        config = transformers.ElectraConfig(embedding_size=32, **settings)
        model = transformers.ElectraModel(config)
    else:
        config = transformers.BertConfig(**settings)
        model = transformers.BertModel(config, add_pooling_layer=False)
    model.save_pretrained(str(folder))
    return folder
