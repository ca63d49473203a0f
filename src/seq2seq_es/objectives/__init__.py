"""Pretraining objectives: the noise functions that turn clean text into (input, label) pairs.

* ``collators``: the collator of a model family from the ``objective`` config section;
* ``bart_denoising``: the BART collator (BARTO), with two noise functions:
  ``fairseq_noise`` (fairseq's ``DenoisingDataset``, the default) and
  ``exact_ratio_noise`` (our variant; README.md tables the differences);
* ``span_corruption``: T5 span corruption with t5's length arithmetic (T5S);
* ``masked_lm``: BERT's masked language modelling with transformers' collator (the tiny
  BERT that BERT2BERT warm-starts from);
* ``packing``: documents → fixed-length blocks, streaming;
* ``sentence_split``: Spanish sentence boundaries, on text and on token ids;
* ``token_tables``: per-vocabulary tables (word starts, specials) built once from a tokenizer.

Every collator takes ``[(index, block), ...]`` and seeds example ``index`` of epoch ``e``
with ``numpy.random.default_rng([seed, e, index])`` (MLM: a torch generator seeded from the
same three numbers): batches do not depend on the
batch composition, the number of DataLoader workers, or where a run was resumed.
"""
