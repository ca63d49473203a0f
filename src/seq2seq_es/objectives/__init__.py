"""Pretraining objectives: the noise functions that turn clean text into (input, label) pairs.

* ``bart_denoising``: BART sentence permutation + whole-word text infilling (BARTO);
* ``span_corruption``: T5 span corruption with t5/seqio's exact length arithmetic (T5S);
* ``packing``: documents → fixed-length blocks, streaming;
* ``sentence_split``: Spanish sentence boundaries, on text and on token ids;
* ``token_tables``: per-vocabulary tables (word starts, specials) built once from a tokenizer.

Every collator takes ``[(index, block), ...]`` and seeds example ``index`` of epoch ``e``
with ``numpy.random.default_rng([seed, e, index])``: batches do not depend on the
batch composition, the number of DataLoader workers, or where a run was resumed.
"""
