"""Model family, all built on plain transformers classes so outputs load anywhere.

- ``presets``: BARTO / T5S presets as one table (base sizes of the paper, tiny/small for CPU).
- ``bert2bert``: warm-start an encoder-decoder from a BERT/RoBERTa checkpoint (shared or not).
- ``led``: convert a BART checkpoint into a Longformer-Encoder-Decoder for long inputs (LEDO).
- ``loading``: ``load_seq2seq`` / ``save_seq2seq`` for every family and any hub seq2seq id.
- ``info``: what ``seq2seq-es model info`` prints.
"""
